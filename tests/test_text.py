"""shared.text: what reaches a terminal shows control characters, never obeys them."""

from __future__ import annotations

import orjson

from shared.text import UNSAFE, terminal_safe, terminal_safe_json

ATTACKS = [
    "\u001b]0;pwned\u0007",  # retitle the terminal (OSC ... BEL)
    "\u001b[2J\u001b[H",  # clear the screen
    "\u009b31mred",  # C1 CSI
    "\u009d0;pwned\u009c",  # C1 OSC ... ST
    "evil\u202egnp.exe",  # right-to-left override
    "\u2066isolate\u2069",
    "over\rwrite",
    "del\u007f",
]


def test_every_control_is_escaped_visibly() -> None:
    for attack in ATTACKS:
        safe = terminal_safe(attack)
        assert not any(ord(c) in UNSAFE for c in safe), repr(safe)
        assert "\\" in safe
    assert terminal_safe("\u001b]0;pwned\u0007") == "\\x1b]0;pwned\\x07"
    assert terminal_safe("a\u202eb") == "a\\u202eb"
    assert terminal_safe("\u0085") == "\\x85"


def test_newline_and_tab_stay_only_in_multiline_text() -> None:
    assert terminal_safe("a\nb\tc", multiline=True) == "a\nb\tc"
    assert terminal_safe("a\nb\tc") == "a\\x0ab\\x09c"
    assert terminal_safe("a\r\nb", multiline=True) == "a\\x0d\nb"


def test_ordinary_text_is_unchanged() -> None:
    text = "Россия стягивает войска — «ultimatum» 東京 café \u2018quoted\u2019 🙂"
    assert terminal_safe(text) == text


def test_json_keeps_its_value_and_loses_raw_controls() -> None:
    value = {"title": "".join(ATTACKS), "n": 1, "plain": "café"}
    raw = orjson.dumps(value)
    assert any(ord(c) in UNSAFE for c in raw.decode())  # orjson writes C1 and bidi raw
    safe = terminal_safe_json(raw)
    assert orjson.loads(safe) == value
    assert not any(ord(c) in UNSAFE for c in safe.decode())
    assert terminal_safe_json(b'{"a":"b"}') == b'{"a":"b"}'
