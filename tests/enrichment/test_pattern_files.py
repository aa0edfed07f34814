"""Pattern files are checked when they load: a bad record fails with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.enrichment import lexicon
from services.enrichment.lexicon import Lexicon, PatternError

GOOD = '{"kind": "threat", "id": "ok", "pattern": [{"LEMMA": "threaten"}]}'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"kind": "invasion", "id": "x", "pattern": [{"LEMMA": "x"}]}', "unknown kind"),
        ('{"kind": "threat", "id": "x", "context": "WAR", "pattern": [{"LEMMA": "x"}]}', "context"),
        ('{"kind": "threat", "id": "x", "pattern": [{"LEMA": "x"}]}', "LEMA"),
        ('{"kind": "threat", "id": "x", "pattern": [{"LEMMA": "x", "OP": "%"}]}', "OP"),
        (
            '{"kind": "threat", "id": "x", "pattern": [{"LEMMA": {"IN": "$NO_SUCH_LIST"}}]}',
            "NO_SUCH",
        ),
        ('{"kind": "threat", "id": "ok", "pattern": [{"LEMMA": "x"}]}', "used twice"),
        ('{"kind": "threat", "pattern": [{"LEMMA": "x"}]}', "'id'"),
        ('{"kind": "threat", "id": "x", "pattern": []}', "non-empty"),
        ("{not json", "not JSON"),
    ],
)
def test_bad_record_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    shutil.copytree(lexicon.PATTERNS_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "signals.jsonl").write_text(GOOD + "\n\n" + line + "\n", encoding="utf-8")
    for load in (
        lambda: Lexicon.load(tmp_path),
        lambda: lexicon.load_jsonl("signals.jsonl", tmp_path),
    ):
        with pytest.raises(PatternError) as err:
            load()
        assert "signals.jsonl:3:" in str(err.value)
        assert message in str(err.value)


def test_shipped_pattern_files_load() -> None:
    lex = Lexicon.load()
    for name in ("signals.jsonl", "dependency.jsonl", "metaphor.jsonl"):
        assert lex.patterns[name], name
        assert lexicon.load_jsonl(name) == lex.patterns[name], name
