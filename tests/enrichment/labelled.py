"""The labelled generalisation sets, their fixed dev/test split, and how they are scored.

- ``tests/data/units.jsonl``: sentences, headlines and headline+lead items from the shared
  corpus (ids and character offsets only; texts are read from ``../shared/corpus``), sampled
  and labelled by reading, from articles that are not in the old development set.
- ``tests/data/written.jsonl``: items written for Brink in its own words (``written: true``),
  one or more per phrase type of the detection issue (misses and false alarms).

Split: a unit is in ``test`` when the first byte of ``sha256(id)`` is odd, else ``dev``. It was
fixed before any pattern was written from these sets; patterns are tuned on dev only.

``python -m tests.enrichment.labelled --split dev [--errors]`` prints the scores (and, with
``--errors``, the misses and false alarms, on dev only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.cli.analyze import article_from_record
from shared.schemas import Article, EnrichedArticle

DATA = Path(__file__).resolve().parent.parent / "data"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "articles.jsonl"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


def split_of(unit_id: str) -> str:
    return "test" if hashlib.sha256(unit_id.encode()).digest()[0] % 2 else "dev"


@dataclass
class Unit:
    id: str
    unit: str  # sentence | headline | headline_summary
    title: str
    text: str
    escalation: bool
    kinds: list[str]
    signals: list[dict[str, Any]]
    source: str  # reuters | bbc | written
    label: dict[str, Any] = field(repr=False)

    @property
    def split(self) -> str:
        return split_of(self.id)

    def article(self) -> Article:
        return article_from_record(
            {"title": self.title, "text": self.text, "language": "en"}, received_at=RECEIVED
        )


def load_corpus(path: Path = CORPUS) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return {a["id"]: a for a in map(json.loads, fh)}


def load_units(corpus: dict[str, dict[str, Any]], split: str | None = None) -> list[Unit]:
    """Units of ``split``: ``dev`` or ``test`` (the first sets, split by hash), ``test2`` (the
    second held-out sets, labelled after the first test split was read), ``test3`` (the third,
    labelled while the classes of the third session were written), or all of them."""
    if split == "test2":
        return _load(corpus, "units_t2.jsonl", "written_t2.jsonl")
    if split == "test3":
        return _load(corpus, "units_t3.jsonl", "written_t3.jsonl")
    units = _load(corpus, "units.jsonl", "written.jsonl")
    return [u for u in units if split is None or u.split == split]


def _load(corpus: dict[str, dict[str, Any]], units_file: str, written_file: str) -> list[Unit]:
    out: list[Unit] = []
    for line in (DATA / units_file).read_text("utf-8").splitlines():
        rec = json.loads(line)
        art = corpus[rec["article"]]
        piece = art["text"][rec["start"] : rec["end"]]
        if rec["unit"] == "headline_summary":
            title, text = art["title"], piece
        elif rec["unit"] == "headline":
            title, text = piece, ""
        else:
            title, text = "", piece
        out.append(
            Unit(
                id=rec["id"],
                unit=rec["unit"],
                title=title,
                text=text,
                escalation=rec["escalation"],
                kinds=rec["kinds"],
                signals=rec["signals"],
                source="reuters" if rec["article"].startswith("reuters") else "bbc",
                label=rec,
            )
        )
    for line in (DATA / written_file).read_text("utf-8").splitlines():
        rec = json.loads(line)
        out.append(
            Unit(
                id=rec["id"],
                unit=rec["unit"],
                title=rec.get("title") or "",
                text=rec.get("text") or "",
                escalation=rec["escalation"],
                kinds=rec["kinds"],
                signals=rec["signals"],
                source="written",
                label=rec,
            )
        )
    return out


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, guess: bool) -> None:
        if truth and guess:
            self.tp += 1
        elif guess:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (
            f"P {self.precision:.3f} R {self.recall:.3f} F1 {self.f1:.3f} "
            f"(tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn})"
        )


def counting_kinds(result: EnrichedArticle) -> set[str]:
    from services.enrichment.scoring import contribution

    return {s.kind.value for s in result.signals if contribution(s) > 0}


@dataclass
class Report:
    overall: Scores
    by_group: dict[str, Scores]
    kind_recall: dict[str, tuple[int, int]]
    parties: tuple[int, int]  # labelled signals with actor and target: right, total
    errors: list[tuple[Unit, EnrichedArticle]]
    # of those whose kind was found: actor right, target right, both right, found
    found_parties: tuple[int, int, int, int] = (0, 0, 0, 0)


def evaluate(units: Sequence[Unit], results: Sequence[EnrichedArticle]) -> Report:
    overall = Scores()
    groups: dict[str, Scores] = {}
    kinds_found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    right = labelled = 0
    actor_ok = target_ok = found = 0
    errors = []
    for u, r in zip(units, results, strict=True):
        overall.add(u.escalation, r.escalation)
        for g in (u.unit, u.source):
            groups.setdefault(g, Scores()).add(u.escalation, r.escalation)
        if u.escalation != r.escalation:
            errors.append((u, r))
        if not u.escalation:
            continue
        got = counting_kinds(r)
        for k in set(u.kinds):
            total[k] += 1
            kinds_found[k] += k in got
        for sig in u.signals:
            if not (sig.get("actor") and sig.get("target")):
                continue
            labelled += 1
            same = [s for s in r.signals if s.kind.value == sig["kind"]]
            if same:
                found += 1
                a_ok = any(s.actor is not None and s.actor.code == sig["actor"] for s in same)
                t_ok = any(s.target is not None and s.target.code == sig["target"] for s in same)
                actor_ok += a_ok
                target_ok += t_ok
            right += any(
                s.kind.value == sig["kind"]
                and s.actor is not None
                and s.actor.code == sig["actor"]
                and s.target is not None
                and s.target.code == sig["target"]
                for s in r.signals
            )
    return Report(
        overall,
        groups,
        {k: (kinds_found[k], total[k]) for k in total},
        (right, labelled),
        errors,
        (actor_ok, target_ok, right, found),
    )


def enrich_units(enricher: Any, units: Iterable[Unit]) -> list[EnrichedArticle]:
    articles = [u.article() for u in units]
    out: list[EnrichedArticle] = []
    for i in range(0, len(articles), 64):
        out.extend(enricher.enrich(articles[i : i + 64]))
    return out


def print_report(name: str, rep: Report) -> None:
    print(f"{name}: {rep.overall}")
    for g, s in sorted(rep.by_group.items()):
        print(f"  {g:17} {s}")
    print("  kind recall:", {k: f"{a}/{b}" for k, (a, b) in sorted(rep.kind_recall.items())})
    right, n = rep.parties
    print(f"  actor+target: {right}/{n} = {right / n if n else 0:.3f}")
    a, t, both, found = rep.found_parties
    if found:
        print(
            f"  of {found} signals whose kind was found: actor {a / found:.3f}, "
            f"target {t / found:.3f}, both {both / found:.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["dev", "test", "test2", "test3"], default="dev")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms")
    args = parser.parse_args(argv)
    from services.enrichment.pipeline import Enricher

    units = load_units(load_corpus(), args.split)
    rep = evaluate(units, enrich_units(Enricher(), units))
    print_report(args.split, rep)
    if args.errors:
        if args.split != "dev":
            raise SystemExit("errors are listed for dev only: test is scored, not read")
        for u, r in rep.errors:
            kinds = sorted({f"{s.kind.value}:{s.modality.value}" for s in r.signals})
            tag = "MISS" if u.escalation else "FA  "
            print(f"{tag} {u.id} [{','.join(u.kinds)}] got {kinds} score {r.score}")
            print(f"     {u.title} || {u.text[:300]}")


if __name__ == "__main__":
    main()
