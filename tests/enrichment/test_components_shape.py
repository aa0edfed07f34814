"""Brink's spaCy components are shaped like spaCy's own (``spacy.pipeline.SpanRuler``):
configured through the factory, patterns loaded by ``initialize`` (or on first use), saved and
loaded with the pipeline by ``to_disk``/``from_disk``, and no module-level caches."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from services.enrichment import components, lexicon
from services.enrichment.components import LexiconPipe, SignalMatcher
from services.enrichment.lexicon import Lexicon
from services.enrichment.pipeline import Enricher, load_pipeline
from tests.enrichment.conftest import make_article

pytestmark = pytest.mark.slow

BRINK = ("brink_gazetteer", "brink_signal_matcher", "brink_signal_context")
SENTENCES = [
    "Russia massed troops on the border with Ukraine, NATO said.",
    "The United States imposed sanctions on Iran on Monday.",
    "China would not rule out the use of force against Taiwan.",
    "Israeli jets struck targets in Gaza overnight.",
    "Profits rose at the bank this quarter.",
]
# A pattern no shipped file has: a nonce verb counts as an armed clash.
NONCE = '{"id": "nonce-zorble", "kind": "armed_clash", "pattern": [{"LOWER": "zorbled"}]}'
NONCE_TEXT = "Russian forces zorbled the Ukrainian army near Kharkiv on Monday."


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline()


@pytest.fixture
def patterns_dir(tmp_path: Path) -> Path:
    """A copy of the shipped patterns with the nonce pattern added."""
    where = tmp_path / "patterns"
    shutil.copytree(lexicon.PATTERNS_DIR, where)
    with (where / "signals.jsonl").open("a", encoding="utf-8") as f:
        f.write("\n" + NONCE + "\n")
    return where


def signals(nlp: Language, texts: list[str]) -> list[list[tuple[str, int, int, str, str]]]:
    out = []
    for doc in nlp.pipe(texts):
        out.append(
            [
                (h.kind, h.start, h.end, h.pattern, str(h.negated) + str(h.hedged))
                for h in doc._.brink_hits
            ]
        )
    return out


def nonce_found(nlp: Language) -> bool:
    return any(h.pattern == "nonce-zorble" for h in nlp(NONCE_TEXT)._.brink_hits)


def test_no_module_level_caches() -> None:
    for module in (lexicon, components):
        cached = [
            name
            for name, value in vars(module).items()
            if hasattr(value, "cache_info") or isinstance(value, functools.partial)
        ]
        assert not cached, (module.__name__, cached)


def test_lexicon_is_immutable() -> None:
    lex = Lexicon.load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        lex.kinds = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        lex.words["MIL_CONTEXT"] = ("x",)  # type: ignore[index]
    assert isinstance(lex.words["MIL_CONTEXT"], tuple)


def test_factory_config_sets_the_patterns_dir(nlp: Language, patterns_dir: Path) -> None:
    assert not nonce_found(nlp)
    custom = nlp  # the trained pipeline, with Brink's pipes replaced for this test
    for name in BRINK:
        custom.replace_pipe(name, name, config={"patterns_dir": str(patterns_dir)})
    try:
        pipe = custom.get_pipe("brink_signal_matcher")
        assert isinstance(pipe, SignalMatcher)
        assert pipe.patterns_dir == str(patterns_dir)
        assert nonce_found(custom)  # loaded on first use, without initialize
    finally:
        for name in BRINK:
            custom.replace_pipe(name, name)
    assert not nonce_found(nlp)


def test_initialize_loads_the_given_patterns(nlp: Language, patterns_dir: Path) -> None:
    pipe = nlp.get_pipe("brink_signal_matcher")
    assert isinstance(pipe, LexiconPipe)
    try:
        pipe.initialize(list, nlp=nlp, patterns_dir=patterns_dir)
        assert nonce_found(nlp)
    finally:
        pipe.initialize(nlp=nlp, patterns_dir=lexicon.PATTERNS_DIR)
    assert not nonce_found(nlp)


def test_to_disk_from_disk_round_trip(nlp: Language, tmp_path: Path) -> None:
    before = signals(nlp, SENTENCES)
    assert any(before), before  # the sentences do hold signals
    nlp.to_disk(tmp_path / "pipeline")
    for name in BRINK:
        saved = tmp_path / "pipeline" / name / "patterns"
        for file in lexicon.FILES:
            assert (saved / file).read_bytes() == (lexicon.PATTERNS_DIR / file).read_bytes()
    loaded = spacy.load(tmp_path / "pipeline")
    assert [n for n in loaded.pipe_names if n.startswith("brink_")] == [
        "brink_newline_sentences",
        *BRINK,
    ]
    assert signals(loaded, SENTENCES) == before


def test_saved_pipeline_keeps_its_own_patterns(
    nlp: Language, patterns_dir: Path, tmp_path: Path
) -> None:
    """A pipeline saved with custom patterns loads them from its own folder, not from the
    directory it was configured with (which may be gone) nor the shipped one."""
    pipe = nlp.get_pipe("brink_signal_matcher")
    assert isinstance(pipe, LexiconPipe)
    try:
        pipe.initialize(nlp=nlp, patterns_dir=patterns_dir)
        nlp.to_disk(tmp_path / "pipeline")
    finally:
        pipe.initialize(nlp=nlp, patterns_dir=lexicon.PATTERNS_DIR)
    shutil.rmtree(patterns_dir)
    loaded = spacy.load(tmp_path / "pipeline")
    assert nonce_found(loaded)
    assert not nonce_found(nlp)


def test_enricher_first_pass_uses_the_components_lexicon(patterns_dir: Path) -> None:
    """The cheap pass indexes the patterns the signal matcher runs: a pattern only the
    configured directory has still reaches the matcher (and its kind is scored)."""
    custom = load_pipeline()
    for name in BRINK:
        custom.replace_pipe(name, name, config={"patterns_dir": str(patterns_dir)})
    enricher = Enricher(custom)
    pipe = custom.get_pipe("brink_signal_matcher")
    assert isinstance(pipe, LexiconPipe)
    assert enricher.lexicon is pipe.lexicon
    result = enricher.enrich([make_article(NONCE_TEXT)])[0]
    assert any(s.cue == "zorbled" and s.kind.value == "armed_clash" for s in result.signals)
