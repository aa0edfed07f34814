"""Deduplication on real corpus text: Reuters wire stories filed twice are near-duplicates.

The pairs were found by running datasketch MinHash LSH over the whole corpus (word 3-shingles of
the body, threshold 0.8); each is the same story re-filed with small edits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.dedup import DedupConfig, Deduplicator, Entry
from services.ingest.normalise import normalise
from shared.schemas import Article, DuplicateKind, RawArticle

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = 86400.0
NEAR_PAIRS = [  # (first, later copy)
    ("reuters-3854", "reuters-4030"),  # IRAQ SAYS IRAN ATTACK REPULSED ON SOUTHERN FRONT
    ("reuters-9628", "reuters-9657"),  # U.S. CHIPMAKERS URGE SANCTIONS AGAINST JAPAN
    ("reuters-14881", "reuters-14912"),  # JAPAN GIVEN LITTLE HOPE OF AVOIDING U.S. SANCTIONS
    ("reuters-13056", "reuters-13074"),  # IRAQ SAYS ITS FORCES SINK THREE IRANIAN VESSELS
]


def article(corpus: dict[str, dict[str, Any]], cid: str, **extra: Any) -> Article:
    src = corpus[cid]
    return normalise(RawArticle(title=src["title"], text=src["text"], id=cid, **extra), T0)


def check(d: Deduplicator, a: Article, now: float = 0.0, origin: str | None = None) -> Any:
    return d.check(a.id, a.content_hash, a.body, now, origin=origin)


@pytest.mark.parametrize(("first", "later"), NEAR_PAIRS)
def test_reuters_refiled_stories_are_near_duplicates(
    corpus: dict[str, dict[str, Any]], first: str, later: str
) -> None:
    d = Deduplicator()
    a, b = article(corpus, first), article(corpus, later)
    assert a.content_hash != b.content_hash
    assert check(d, a).duplicate is None
    dup = check(d, b, now=60).duplicate
    assert dup is not None
    assert (dup.of, dup.kind) == (a.id, DuplicateKind.NEAR)
    assert 0.8 <= dup.similarity <= 1.0


def test_different_stories_on_the_same_topic_are_not_duplicates(
    corpus: dict[str, dict[str, Any]],
) -> None:
    d = Deduplicator()
    # All four are Gulf-war / US-Japan trade stories of spring 1987: same words, other stories.
    verdicts = [check(d, article(corpus, first)).duplicate for first, _ in NEAR_PAIRS]
    assert verdicts == [None] * len(NEAR_PAIRS)
    assert len(d) == len(NEAR_PAIRS)


def test_exact_copies_by_content_and_by_id(corpus: dict[str, dict[str, Any]]) -> None:
    d = Deduplicator()
    a = article(corpus, "reuters-3854")
    check(d, a)
    same_content = article(corpus, "reuters-3854", source="Another wire")
    assert same_content.id == a.id
    dup = check(d, same_content).duplicate
    assert dup is not None and (dup.of, dup.kind, dup.similarity) == (a.id, "exact", 1.0)
    # Same content under another id (a URL): exact by content hash.
    with_url = article(corpus, "reuters-3854", url="https://wire.example/iraq")
    dup = check(d, with_url).duplicate
    assert dup is not None and (dup.of, dup.kind) == (a.id, DuplicateKind.EXACT)
    # Same URL, edited text: exact by id, with the estimated similarity of the edit.
    check(d, article(corpus, "reuters-9628", url="https://wire.example/chips"))
    edited = article(corpus, "reuters-9657", url="https://wire.example/chips")
    dup = check(d, edited).duplicate
    assert dup is not None and dup.kind == DuplicateKind.EXACT and 0.8 <= dup.similarity < 1.0


def test_a_redelivered_first_copy_stays_a_first_copy(corpus: dict[str, dict[str, Any]]) -> None:
    d = Deduplicator()
    a = article(corpus, "reuters-3854")
    assert check(d, a, origin="0:17").remembered is not None
    again = check(d, a, origin="0:17")
    assert again.duplicate is None and again.remembered is None
    assert check(d, a, origin="2:3").duplicate is not None


def test_the_window_forgets_old_stories_and_bounds_memory(
    corpus: dict[str, dict[str, Any]],
) -> None:
    d = Deduplicator(DedupConfig(window_seconds=7 * DAY, max_entries=3))
    first, later = NEAR_PAIRS[0]
    check(d, article(corpus, first), now=0)
    assert d.evict(6 * DAY) == []
    assert d.evict(8 * DAY) == [article(corpus, first).id]
    assert check(d, article(corpus, later), now=8 * DAY).duplicate is None
    for cid in ("reuters-9628", "reuters-14881", "reuters-13056"):
        check(d, article(corpus, cid), now=8 * DAY)
    assert len(d) == 3  # the cap pushed the oldest out
    assert article(corpus, later).id not in d


def test_state_round_trips_through_bytes(corpus: dict[str, dict[str, Any]]) -> None:
    before = Deduplicator()
    first, later = NEAR_PAIRS[1]
    entry = check(before, article(corpus, first), now=5.0, origin="1:2").remembered
    assert entry is not None
    restored = Entry.from_bytes(entry.to_bytes())
    assert (restored.id, restored.content_hash, restored.seen_at, restored.origin) == (
        entry.id,
        entry.content_hash,
        5.0,
        "1:2",
    )
    after = Deduplicator()
    after.restore(restored)
    dup = check(after, article(corpus, later), now=6.0).duplicate
    assert dup is not None and (dup.of, dup.kind) == (entry.id, DuplicateKind.NEAR)
    after.forget(entry.id)
    after.forget(article(corpus, later).id)  # the copy was remembered too
    assert check(after, article(corpus, later), now=7.0).duplicate is None


def test_a_resend_of_a_later_copy_is_an_exact_copy_of_the_first(
    corpus: dict[str, dict[str, Any]],
) -> None:
    d = Deduplicator()
    first, later = NEAR_PAIRS[2]
    a = article(corpus, first)
    b = article(corpus, later, url="https://wire.example/b?utm_source=x")
    check(d, a)
    near = check(d, b, origin="1:1")
    assert near.duplicate is not None and near.duplicate.kind == DuplicateKind.NEAR
    assert near.remembered is not None and near.remembered.duplicate == near.duplicate
    # Persisted and restored elsewhere, the copy is still known by its id and its hash.
    other = Deduplicator()
    for entry in (check(Deduplicator(), a).remembered, near.remembered):
        assert entry is not None
        other.restore(Entry.from_bytes(entry.to_bytes()))
    for dd in (d, other):
        resend = check(dd, article(corpus, later, url="https://wire.example/b"), origin="2:9")
        assert resend.duplicate is not None
        assert (resend.duplicate.of, resend.duplicate.kind) == (a.id, DuplicateKind.EXACT)
        same_text = check(dd, article(corpus, later))  # no URL: found by content hash
        assert same_text.duplicate is not None and same_text.duplicate.of == a.id
    # The very same raw record delivered twice gets the verdict it got the first time.
    assert check(d, b, origin="1:1").duplicate == near.duplicate


def test_evictions_are_counted_and_cap_evictions_are_handed_out_for_deletion(
    corpus: dict[str, dict[str, Any]],
) -> None:
    counted: list[tuple[str, int]] = []
    d = Deduplicator(
        DedupConfig(window_seconds=DAY, max_entries=2), on_evict=lambda c, n: counted.append((c, n))
    )
    ids = [article(corpus, cid).id for cid in ("reuters-3854", "reuters-9628", "reuters-14881")]
    for cid in ("reuters-3854", "reuters-9628", "reuters-14881"):
        check(d, article(corpus, cid), now=0)
    assert len(d) == 2 and counted == [("cap", 1)]
    assert d.take_capped() == [ids[0]] and d.take_capped() == []  # to delete from the state
    assert sorted(d.evict(2 * DAY)) == sorted(ids[1:])
    assert counted == [("cap", 1), ("window", 2)]


def test_the_cap_bounds_a_flood_of_distinct_articles() -> None:
    d = Deduplicator(DedupConfig(max_entries=100))
    for i in range(1000):
        text = f"story number {i} " + " ".join(f"w{i}x{j}" for j in range(10))
        d.check(f"id{i}", f"hash{i}", text, now=float(i))
    assert len(d) == 100 and len(d.take_capped()) == 900
