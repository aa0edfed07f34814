"""Brink's linguistic data, read from one patterns directory (by default the shipped
``patterns/``): pattern files, word lists, the country/organisation gazetteer and the table
of signal kinds (CAMEO, PLOVER, weight).

`Lexicon.load` reads and checks everything once into an immutable `Lexicon`, which the spaCy
components (``components``) and the `Enricher`'s first pass share; there is no module-level
state or cache. The module-level functions are pure (`inflections`, `expand`,
`required_forms`, `check_record`). No spaCy objects are built here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

PATTERNS_DIR = Path(__file__).with_name("patterns")

# Irregular inflections of words used in patterns, so the cheap first pass (which has no
# lemmatizer) recognises "sank", "fought" or "withdrew" as forms of the pattern lemmas.
_IRREGULAR: dict[str, tuple[str, ...]] = {
    "shoot": ("shot",),
    "fight": ("fought",),
    "send": ("sent",),
    "build": ("built",),
    "bring": ("brought",),
    "withdraw": ("withdrew", "withdrawn"),
    "break": ("broke", "broken"),
    "throw": ("threw", "thrown"),
    "go": ("went", "gone", "goes"),
    "strike": ("struck", "stricken"),
    "seek": ("sought",),
    "mean": ("meant",),
    "lay": ("laid",),
    "bear": ("bore", "borne"),
    "man": ("men",),
    "hit": ("hit",),
    "cut": ("cut",),
    "shell": ("shelled", "shelling"),
    "wage": ("waged",),
    "sink": ("sank", "sunk"),
    "put": ("put",),
    "be": ("am", "is", "are", "was", "were", "been", "'s", "\u2019s", "'re", "\u2019re", "'m"),
}


def inflections(word: str) -> set[str]:
    """Lower-case surface forms of an English lemma (over-generation is harmless here)."""
    w = word.lower()
    out = {w, *(_IRREGULAR.get(w, ()))}
    vowels = "aeiou"
    if w.endswith(("s", "x", "z", "ch", "sh")):
        out.add(w + "es")
    elif w.endswith("y") and len(w) > 1 and w[-2] not in vowels:
        out.update({w[:-1] + "ies", w[:-1] + "ied"})
    else:
        out.add(w + "s")
    if w.endswith("e"):
        out.update({w + "d", w[:-1] + "ing"})
    else:
        out.update({w + "ed", w + "ing"})
        if len(w) >= 3 and w[-1] not in vowels + "wxy" and w[-2] in vowels and w[-3] not in vowels:
            out.update({w + w[-1] + "ed", w + w[-1] + "ing"})
    return out


def expand(obj: Any, words: Mapping[str, Iterable[str]]) -> Any:
    """Replace ``"$NAME"`` strings in a pattern by the named word list of ``words`` (a
    `KeyError` for an unknown name)."""
    if isinstance(obj, str) and obj.startswith("$"):
        return list(words[obj[1:]])
    if isinstance(obj, list):
        return [expand(x, words) for x in obj]
    if isinstance(obj, dict):
        return {k: expand(v, words) for k, v in obj.items()}
    return obj


class PatternError(ValueError):
    """A pattern file that cannot be used; the message names the file and line."""


CONTEXTS = frozenset({"MIL", "CONFLICT", "DIPLO", "STATE"})
_DEP_KEYS = frozenset({"RIGHT_ID", "RIGHT_ATTRS", "LEFT_ID", "REL_OP"})


def check_record(rec: Any, where: str, *, signal: bool, kinds: Mapping[str, KindInfo]) -> None:
    """Raise `PatternError` unless ``rec`` is a usable pattern record: an ``id``, for signal
    patterns a known ``kind`` and ``context``, and a token or dependency pattern that spaCy's
    own pattern schema accepts (unknown token attributes, bad operators). ``kinds`` is the
    table of known kinds (``kinds.json``)."""
    from spacy.schemas import validate_token_pattern

    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
        raise PatternError(f"{where}: a record needs a string 'id'")
    allowed = (
        {"id", "pattern", "kind", "context", "priority", "cue", "_doc"}
        if signal
        else {"id", "pattern", "_doc"}
    )
    unknown = set(rec) - allowed
    if unknown:
        raise PatternError(f"{where}: unknown field(s) {sorted(unknown)}")
    if signal and rec.get("kind") not in kinds:
        raise PatternError(f"{where}: unknown kind {rec.get('kind')!r} (see kinds.json)")
    if signal and rec.get("cue", "all") not in ("all", "first"):
        raise PatternError(f"{where}: 'cue' is 'all' (the whole match) or 'first' (its first word)")
    if signal and not isinstance(rec.get("priority", 0), int):
        raise PatternError(f"{where}: 'priority' must be an integer")
    if signal and rec.get("context") not in (None, *CONTEXTS):
        raise PatternError(
            f"{where}: unknown context {rec['context']!r}, one of {sorted(CONTEXTS)}"
        )
    pattern = rec.get("pattern")
    if not isinstance(pattern, list) or not pattern:
        raise PatternError(f"{where}: 'pattern' must be a non-empty list of token specs")
    if all(isinstance(t, dict) and "RIGHT_ID" in t for t in pattern):
        for t in pattern:
            if set(t) - _DEP_KEYS:
                raise PatternError(
                    f"{where}: unknown dependency key(s) {sorted(set(t) - _DEP_KEYS)}"
                )
        tokens = [t.get("RIGHT_ATTRS", {}) for t in pattern]
    else:
        tokens = pattern
    errors = validate_token_pattern(tokens)
    if errors:
        raise PatternError(f"{where}: {'; '.join(errors)}")


@dataclass(frozen=True, slots=True)
class KindInfo:
    cameo: str
    plover: str
    weight: float


def _kinds(data: Mapping[str, Any]) -> dict[str, KindInfo]:
    return {
        k: KindInfo(cameo=v["cameo"], plover=v["plover"], weight=float(v["weight"]))
        for k, v in data.items()
        if not k.startswith("_")
    }


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    code: str
    name: str
    type: str  # country | organisation | armed_group


def _gazetteer(data: Mapping[str, Any]) -> dict[str, tuple[GazetteerEntry, tuple[str, ...]]]:
    """code -> (entry, names that refer to it, as written)."""
    out: dict[str, tuple[GazetteerEntry, tuple[str, ...]]] = {}
    rows = [(c, n, "country", a) for c, n, a in data["countries"]]
    rows += [tuple(r) for r in data["organisations"]]
    for code, name, type_, aliases in rows:
        entry, names = out.get(code, (GazetteerEntry(code, name, type_), ()))
        out[code] = (entry, (*names, name, *aliases))
    for code, where in data.get("places", {}).items():  # cities and regions name their country
        if code not in out:
            raise ValueError(f"gazetteer.json: places: unknown code {code!r}")
        entry, names = out[code]
        out[code] = (entry, (*names, *where))
    return out


def required_forms(
    pattern: list[dict[str, Any]], more: Mapping[str, Iterable[str]] | None = None
) -> list[frozenset[str]]:
    """For each required word constraint of a token or dependency pattern, the lower-cased
    surface forms that can satisfy it. A sentence lacking any one of them cannot match.
    ``more`` adds surface forms per lemma (a lemmatizer's exceptions)."""
    groups: list[frozenset[str]] = []
    for tok in pattern:
        op = str(tok.get("OP", ""))
        if op in ("?", "*") or op.startswith("{0"):
            continue
        attrs = tok.get("RIGHT_ATTRS", tok)
        for key in ("LEMMA", "LOWER", "ORTH"):
            value = attrs.get(key)
            if value is None:
                continue
            words = [value] if isinstance(value, str) else value.get("IN")
            if not words:
                continue
            if key == "LEMMA":
                extra = more or {}
                groups.append(
                    frozenset(f for w in words for f in {*inflections(w), *extra.get(w, ())})
                )
            else:
                groups.append(frozenset(w.lower() for w in words))
            break
    return groups


PATTERN_FILES = ("signals.jsonl", "dependency.jsonl", "metaphor.jsonl")
# Every file a `Lexicon` reads from its directory (and a component writes in ``to_disk``).
FILES = ("lexicon.json", "context.json", "kinds.json", "gazetteer.json", *PATTERN_FILES)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Everything read from one patterns directory, checked once; immutable and shared by the
    components of one pipeline and the `Enricher`'s first pass. Build it with `load` (or
    `from_sources`); write it back with `to_disk`."""

    sources: Mapping[str, bytes]  # file name -> contents as read, for `to_disk`
    words: Mapping[str, tuple[str, ...]]  # named word lists (``$NAME`` in pattern files)
    context: Mapping[str, frozenset[str]]  # context.json
    kinds: Mapping[str, KindInfo]
    gazetteer: Mapping[str, tuple[GazetteerEntry, tuple[str, ...]]]
    patterns: Mapping[str, tuple[dict[str, Any], ...]]  # pattern file name -> its records

    @classmethod
    def load(cls, directory: Path | str | None = None) -> Lexicon:
        """The files of ``directory`` (default: the shipped ``patterns/``). A bad pattern
        record raises `PatternError` naming the file and line."""
        where = Path(directory) if directory is not None else PATTERNS_DIR
        return cls.from_sources({n: (where / n).read_bytes() for n in FILES}, where)

    @classmethod
    def from_sources(cls, sources: Mapping[str, bytes], where: Path) -> Lexicon:
        """Parse and check file contents (``where`` names the directory in errors)."""
        data = {n: json.loads(sources[n]) for n in FILES if n.endswith(".json")}
        words = {k: tuple(v) for k, v in data["lexicon.json"].items() if not k.startswith("_")}
        kinds = _kinds(data["kinds.json"])
        patterns = {
            n: parse_jsonl(sources[n].decode("utf-8"), where / n, words, kinds)
            for n in PATTERN_FILES
        }
        return cls(
            sources=MappingProxyType({n: sources[n] for n in FILES}),
            words=MappingProxyType(words),
            context=MappingProxyType(
                {k: frozenset(v) for k, v in data["context.json"].items() if not k.startswith("_")}
            ),
            kinds=MappingProxyType(kinds),
            gazetteer=MappingProxyType(_gazetteer(data["gazetteer.json"])),
            patterns=MappingProxyType(patterns),
        )

    def to_disk(self, directory: Path | str) -> None:
        """Write the files as they were read, so `load` on ``directory`` gives this Lexicon."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, content in self.sources.items():
            (out / name).write_bytes(content)


def parse_jsonl(
    text: str,
    path: Path,
    words: Mapping[str, Iterable[str]],
    kinds: Mapping[str, KindInfo],
) -> tuple[dict[str, Any], ...]:
    """The records of a pattern file's text, with word lists expanded, each checked by
    `check_record` (a bad record raises `PatternError` naming ``path`` and the line)."""
    out = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = expand(json.loads(line), words)
        except json.JSONDecodeError as exc:
            raise PatternError(f"{where}: not JSON: {exc}") from None
        except KeyError as exc:
            raise PatternError(f"{where}: unknown word list ${exc.args[0]}") from None
        check_record(rec, where, signal=path.name != "metaphor.jsonl", kinds=kinds)
        if rec["id"] in seen:
            raise PatternError(f"{where}: id {rec['id']!r} is used twice")
        seen.add(rec["id"])
        out.append(rec)
    return tuple(out)


def load_jsonl(name: str, directory: Path | str = PATTERNS_DIR) -> tuple[dict[str, Any], ...]:
    """The checked records of ``<directory>/<name>``, with the word lists and kinds of the
    same directory (read afresh each call; components use a `Lexicon`)."""
    where = Path(directory)
    words = {
        k: tuple(v)
        for k, v in json.loads((where / "lexicon.json").read_bytes()).items()
        if not k.startswith("_")
    }
    kinds = _kinds(json.loads((where / "kinds.json").read_bytes()))
    return parse_jsonl((where / name).read_text(encoding="utf-8"), where / name, words, kinds)
