"""Text that is safe to print on a terminal (pure functions, no I/O).

Article and alert text comes from anyone who can publish: a title such as
``"\\x1b]0;pwned\\x07"`` would retitle the analyst's terminal, ``"\\x1b[2J"`` clear it, a C1
``"\\x9b"`` start a control sequence on terminals that honour 8-bit controls, and a bidi override
(U+202E) make ``"evil\\u202egnp.exe"`` read as something else. `terminal_safe` writes every such
character as a visible escape (``\\x1b``, ``\\x9b``, ``\\u202e``) instead; `terminal_safe_json` does
the same inside JSON text, where the escape (``\\u001b``) decodes back to the same string.
"""

from __future__ import annotations

# C0 controls, DEL and C1 controls: what a terminal acts on rather than shows.
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
# Bidirectional formatting: embeddings/overrides, isolates, and the implicit marks.
BIDI_CONTROLS = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
UNSAFE = frozenset(_CONTROLS) | BIDI_CONTROLS


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ESCAPES = {code: _escape(code) for code in UNSAFE}
_MULTILINE = {code: e for code, e in _ESCAPES.items() if code not in (0x0A, 0x09)}
_JSON = {code: f"\\u{code:04x}" for code in UNSAFE}


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control character (C0, DEL, C1) and bidi control written as a
    visible escape. With ``multiline`` newline and tab stay as they are; without, they are
    escaped too, so a one-line field cannot start a line of its own."""
    return text.translate(_MULTILINE if multiline else _ESCAPES)


def terminal_safe_json(data: bytes) -> bytes:
    """Compact JSON (as orjson writes it) with every unsafe character inside its strings as a
    ``\\uXXXX`` escape: the same JSON value, nothing a terminal would act on.

    orjson already escapes C0 controls; DEL, C1 and bidi controls it writes raw. In valid JSON
    those can only occur inside strings, so replacing them keeps the document valid.
    """
    text = data.decode("utf-8")
    if text.isascii() and "\x7f" not in text:
        return data
    return text.translate(_JSON).encode("utf-8")
