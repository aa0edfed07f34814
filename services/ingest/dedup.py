"""Duplicate detection over a time window (pure: no Kafka; state goes in and out as bytes).

Owns what "the same story" means:
- exact: the same article id (same canonical URL, or same content when there is no URL) or the
  same content hash as a first copy seen within the window;
- near: MinHash LSH (datasketch) over word shingles finds a first copy whose estimated Jaccard
  similarity is at least the threshold.

Later copies point at the first (``Duplicate.of``); only first copies go into the LSH index,
and later copies are remembered by id and hash so a resend of any copy is an exact duplicate of
the story's first copy. Memory
is bounded: entries older than the window are evicted (and reported so the caller can delete
them from the persisted state), and so are the oldest once ``max_entries`` is reached.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from datasketch import MinHash, MinHashLSH

from services.ingest.normalise import words
from shared.schemas import Duplicate, DuplicateKind

STATE_VERSION = 1
SCHEME = "affine32"  # datasketch's default hashing scheme; persisted signatures depend on it


@dataclass(frozen=True, slots=True)
class DedupConfig:
    threshold: float = 0.8  # estimated Jaccard similarity that makes a near-duplicate
    window_seconds: float = 7 * 24 * 3600.0
    num_perm: int = 128
    shingle_words: int = 3
    min_shingles: int = 5  # shorter texts are only checked for exact copies
    max_entries: int = 500_000  # ~1 KB each: a hard memory cap on top of the window
    lsh_margin: float = 0.15  # LSH finds candidates this far below the threshold (recall)


@dataclass(frozen=True, slots=True)
class Entry:
    """A remembered article, persisted in the state topic keyed by ``id``: a first copy (with its
    MinHash signature), or a later copy (``duplicate`` set) so that a resend of that copy is
    recognised as the same story too."""

    id: str
    content_hash: str
    seen_at: float  # Unix seconds when ingest first saw it
    hashvalues: np.ndarray[Any, Any] | None  # MinHash signature; None when too short
    origin: str | None = None  # "partition:offset" of the raw record it came from
    duplicate: Duplicate | None = None  # set for a later copy: the verdict it got

    def to_bytes(self) -> bytes:
        mh = dtype = None
        if self.hashvalues is not None:
            # the exact dtype matters: LSH bands hash the signature's bytes
            dtype = self.hashvalues.dtype.newbyteorder("<").str
            mh = base64.b64encode(self.hashvalues.astype(dtype).tobytes()).decode()
        return orjson.dumps(
            {
                "v": STATE_VERSION,
                "id": self.id,
                "hash": self.content_hash,
                "at": self.seen_at,
                "mh": mh,
                "dtype": dtype,
                "origin": self.origin,
                "dup": None if self.duplicate is None else self.duplicate.model_dump(mode="json"),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        obj = orjson.loads(data)
        mh = obj.get("mh")
        values = None
        if mh is not None:
            raw = np.frombuffer(base64.b64decode(mh), dtype=np.dtype(obj.get("dtype") or "<u4"))
            values = raw.astype(raw.dtype.newbyteorder("="))
        dup = obj.get("dup")
        return cls(
            obj["id"],
            obj["hash"],
            float(obj["at"]),
            values,
            obj.get("origin"),
            None if dup is None else Duplicate.model_validate(dup),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    duplicate: Duplicate | None
    remembered: Entry | None  # what to persist, if anything new was learnt


def shingles(text: str, size: int) -> set[bytes]:
    """Overlapping runs of ``size`` lower-cased words."""
    toks = words(text)
    if len(toks) < size:
        return {" ".join(toks).encode()} if toks else set()
    return {" ".join(toks[i : i + size]).encode() for i in range(len(toks) - size + 1)}


class Deduplicator:
    """Remembers first copies within the window and classifies each new article against them."""

    def __init__(
        self,
        config: DedupConfig | None = None,
        on_evict: Callable[[str, int], None] | None = None,
    ) -> None:
        """``on_evict(cause, n)`` is told of every eviction: cause ``window`` or ``cap``."""
        self.config = config or DedupConfig()
        self._on_evict = on_evict
        # Ids pushed out by the cap since the last `take_capped`: the caller deletes them from the
        # persisted state too (tombstones), or the state topic would outgrow the cap.
        self._capped: list[str] = []
        self._entries: dict[str, Entry] = {}  # insertion order ~ seen_at order
        self._by_hash: dict[str, str] = {}
        self._sketches: dict[str, MinHash] = {}
        # LSH only proposes candidates; the decision is the estimated Jaccard >= threshold. A lower
        # LSH threshold keeps pairs just above the threshold from slipping through its bands.
        lsh_threshold = max(0.3, self.config.threshold - self.config.lsh_margin)
        self._perms = MinHash(num_perm=self.config.num_perm, scheme=SCHEME).permutations
        self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=self.config.num_perm)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    def minhash(self, text: str) -> MinHash | None:
        grams = shingles(text, self.config.shingle_words)
        if len(grams) < self.config.min_shingles:
            return None
        mh = MinHash(num_perm=self.config.num_perm, permutations=self._perms, scheme=SCHEME)
        mh.update_batch(list(grams))
        return mh

    def check(
        self,
        article_id: str,
        digest: str,
        text: str,
        now: float,
        origin: str | None = None,
    ) -> Verdict:
        """Classify one article and remember it (a first copy, or which story a copy belongs to)."""
        mh = self.minhash(text)
        seen = self._entries.get(article_id)
        if seen is not None:
            if origin is not None and seen.origin == origin:
                return Verdict(seen.duplicate, None)  # the same raw record redelivered
            return Verdict(self._exact(seen, mh, digest), None)
        by_hash = self._by_hash.get(digest)
        if by_hash is not None:
            first_id = self._story(self._entries[by_hash])
            dup = Duplicate(of=first_id, kind=DuplicateKind.EXACT, similarity=1.0)
            return self._copy(article_id, digest, now, origin, dup)
        if mh is not None:
            best, score = None, 0.0
            for candidate in self._lsh.query(mh):
                sim = float(mh.jaccard(self._sketches[candidate]))
                if sim > score or (sim == score and best is not None and candidate < best):
                    best, score = candidate, sim
            if best is not None and score >= self.config.threshold:
                dup = Duplicate(of=best, kind=DuplicateKind.NEAR, similarity=round(score, 4))
                return self._copy(article_id, digest, now, origin, dup)
        entry = Entry(article_id, digest, now, None if mh is None else mh.hashvalues, origin)
        self._remember(entry, mh)
        return Verdict(None, entry)

    @staticmethod
    def _story(entry: Entry) -> str:
        return entry.duplicate.of if entry.duplicate is not None else entry.id

    def _copy(
        self, article_id: str, digest: str, now: float, origin: str | None, dup: Duplicate
    ) -> Verdict:
        entry = Entry(article_id, digest, now, None, origin, dup)
        self._remember(entry, None)
        return Verdict(dup, entry)

    def _exact(self, seen: Entry, mh: MinHash | None, digest: str) -> Duplicate:
        """The same id again: an exact copy of the story ``seen`` belongs to."""
        of = self._story(seen)
        if digest == seen.content_hash:
            sim = 1.0
        elif mh is not None and of in self._sketches:
            sim = round(float(mh.jaccard(self._sketches[of])), 4)
        else:
            sim = 0.0
        return Duplicate(of=of, kind=DuplicateKind.EXACT, similarity=sim)

    def restore(self, entry: Entry) -> None:
        """Add a persisted entry (state replay, or another instance's new entry)."""
        if entry.id in self._entries:
            self.forget(entry.id)
        mh = None
        if entry.hashvalues is not None:
            mh = MinHash(num_perm=self.config.num_perm, hashvalues=entry.hashvalues, scheme=SCHEME)
        self._remember(entry, mh)

    def forget(self, article_id: str) -> None:
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return
        if self._by_hash.get(entry.content_hash) == article_id:
            del self._by_hash[entry.content_hash]
        if self._sketches.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def evict(self, now: float) -> list[str]:
        """Forget first copies older than the window (and the oldest over the cap); their ids."""
        horizon = now - self.config.window_seconds
        gone: list[str] = []
        for article_id, entry in self._entries.items():
            if (
                entry.seen_at >= horizon
                and len(self._entries) - len(gone) <= self.config.max_entries
            ):
                break
            gone.append(article_id)
        for article_id in gone:
            self.forget(article_id)
        if gone and self._on_evict is not None:
            self._on_evict("window", len(gone))
        return gone

    def take_capped(self) -> list[str]:
        """Ids evicted by the ``max_entries`` cap since the last call (and forget the list)."""
        capped, self._capped = self._capped, []
        return capped

    def restore_all(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.restore(entry)

    def _remember(self, entry: Entry, mh: MinHash | None) -> None:
        self._entries[entry.id] = entry
        self._by_hash.setdefault(entry.content_hash, entry.id)  # forget() deletes by this id
        if mh is not None:
            self._sketches[entry.id] = mh
            self._lsh.insert(entry.id, mh)
        if len(self._entries) > self.config.max_entries:
            oldest = next(iter(self._entries))
            self.forget(oldest)
            self._capped.append(oldest)
            if self._on_evict is not None:
                self._on_evict("cap", 1)
