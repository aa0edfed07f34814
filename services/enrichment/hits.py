"""What the matching components find: `Place` (a gazetteer match) and `Hit` (a pattern match
with its context). A leaf module: plain dataclasses, imported by the components, the context
reader and the pipeline, so none of those import each other for them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Place:
    """A gazetteer match: tokens [start, end) name ``code``."""

    start: int
    end: int
    code: str
    name: str
    type: str


@dataclass(slots=True)
class Hit:
    """One pattern match in a Doc, with its context once ``brink_signal_context`` ran."""

    kind: str
    start: int
    end: int
    pattern: str
    head: int
    priority: int = 0
    negated: bool = False
    hedged: bool = False
    demanded: bool = False
    historical: bool = False
    year: int | None = None
    actors: list[int] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    speakers: list[int] = field(default_factory=list)  # actors of last resort: who said it
    bidden: list[int] = field(default_factory=list)  # who was called on or ordered to act
