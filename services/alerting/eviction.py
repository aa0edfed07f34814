"""Which groups each table partition holds, and which to evict (pure: no Faust, no clock).

Group keys come from actor and target names that NER found in the news, so their number has no
natural bound. A group whose state no longer matters (idle, wall clock, longer than its rule's
`services.alerting.rules.idle_after`) is evicted, and so is the least recently used group of a
partition when the partition holds more than its share of ``BRINK_ALERTING_MAX_GROUPS``. The
service deletes an evicted key from the Faust table (``del table[key]``), which writes a
tombstone to the changelog, so a restart does not bring it back.

Evictions happen per table partition, because Faust writes a table change to the changelog
partition of the record being processed: the service only evicts keys of the partition whose
record it is evaluating.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class GroupIndex:
    """Per partition, group key -> (last touched, how long it matters), least recent first."""

    def __init__(self, max_per_partition: int) -> None:
        self.max_per_partition = max(1, max_per_partition)
        self._parts: dict[int, dict[str, tuple[float, float]]] = {}

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts.values())

    def count(self, partition: int) -> int:
        return len(self._parts.get(partition, {}))

    def touch(self, partition: int, key: str, *, touched: float, keep: float) -> list[str]:
        """Record that ``key`` was written; return the keys to evict over the cap (oldest use
        first, never ``key`` itself), already forgotten here."""
        part = self._parts.setdefault(partition, {})
        part.pop(key, None)
        part[key] = (touched, keep)  # dicts keep insertion order: the end is the newest use
        victims: list[str] = []
        while len(part) > self.max_per_partition:
            victim = next(iter(part))
            del part[victim]
            victims.append(victim)
        return victims

    def idle(self, partition: int, now: float) -> list[str]:
        """Keys of ``partition`` idle longer than they matter, already forgotten here."""
        part = self._parts.get(partition, {})
        victims = [k for k, (touched, keep) in part.items() if now - touched > keep]
        for k in victims:
            del part[k]
        return victims

    def forget(self, partition: int, key: str) -> None:
        self._parts.get(partition, {}).pop(key, None)

    def rebuild(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Start again from the table's contents (after a rebalance and its recovery). Values
        written before eviction existed carry no partition and are left alone until written."""
        self._parts.clear()
        ordered = sorted(
            (
                (float(v["touched"]), k, int(v["p"]), float(v["keep"]))
                for k, v in items
                if "p" in v and "touched" in v and "keep" in v
            ),
        )
        for touched, key, partition, keep in ordered:
            self._parts.setdefault(partition, {})[key] = (touched, keep)
