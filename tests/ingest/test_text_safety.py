"""Output safety and linear-time text handling in normalise (no network).

Control characters (C0 and C1 but newline and tab) and Unicode bidi overrides/isolates are
stripped from every text field; markup is handled in time linear in its size.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import orjson

from services.ingest import normalise as n
from tests.conftest import ROOT

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
TERMINAL = "\u001b]0;pwned\u0007\u001b[2J\u009b31m"


def unsafe(text: str) -> list[str]:
    return [
        c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c in BIDI
    ]


def test_control_and_bidi_characters_are_stripped_from_every_text_field() -> None:
    raw = {
        "title": f"Troops {TERMINAL}massed{BIDI}",
        "text": f"Troops massed\u0085 at the {TERMINAL}border.\n\nSecond\tparagraph \u202eevil.",
        "source": f"Wire{TERMINAL}",
        "url": "https://example.org/a\u001b[2Jb",
        "id": f"ext{TERMINAL}",
        "meta": {f"k{TERMINAL}": f"v{TERMINAL}", "list": [f"x\u009b{BIDI}"], "n": {"s": "\u0007y"}},
    }
    article = n.process(orjson.dumps(raw), T0, max_bytes=None)
    fields = [article.title, article.body, article.source or "", article.url or ""]
    fields.append(article.external_id or "")
    fields.append(orjson.dumps(article.meta).decode())  # keys and values alike
    for text in fields:
        assert unsafe(text) == [], text
        assert "\\u001b" not in text.lower() and "\\u0007" not in text.lower()
    assert article.title == "Troops ]0;pwned[2J31mmassed"
    assert "Second paragraph evil." in article.body
    assert article.meta == {"k]0;pwned[2J31m": "v]0;pwned[2J31m", "list": ["x"], "n": {"s": "y"}}


def test_raw_c1_characters_in_json_are_stripped_not_binary() -> None:
    # HTTP answered 202 for these while the consumer dead-lettered them as `binary`: one rule now.
    value = '{"title": "Sanctions\u0085 \u0091news\u0092", "text": "Body\u0080 \u009b text."}'
    article = n.process(value.encode(), T0, max_bytes=None)
    assert (article.title, article.body) == ("Sanctions news", "Body text.")
    # Plain text with C1 controls is text too (stripped); only NUL or many C0 controls is binary.
    plain = n.process(
        "Headline\n\nBody \u0085with a C1\u009b control.".encode(), T0, max_bytes=None
    )
    assert (plain.title, plain.body) == ("Headline", "Body with a C1 control.")


ADVERSARIAL = textwrap.dedent(
    """
    import sys, time
    from services.ingest import normalise as n
    mb = 5_000_000
    inputs = {
        "b-repeated": "<b" * (mb // 2),
        "one-open-tag": "<p " + "a=1 " * (mb // 4),
        "nested-tags": "<div>" * 100_000 + "Troops massed." + "</div>" * 100_000,
        "lt-repeated": "<" * mb,
        "lt-b-space": "< b " * (mb // 4),
        # with a '>' at the end, each of these is taken as HTML and goes through trafilatura/lxml
        "b-repeated-closed": "<b" * (mb // 2) + ">",
        "one-open-tag-closed": "<p " + "a=1 " * (mb // 4) + ">Troops massed.</p>",
        "nested-tags-5mb": "<div>" * 400_000 + "Troops massed." + "</div>" * 400_000,
        "paragraphs": "<p>Troops <b>massed</b> at the border.</p>" * (mb // 42),
    }
    for name, text in inputs.items():
        t = time.perf_counter()
        n.clean_body(text)
        n.clean_title(text[:5000])
        print(name, len(text), round(time.perf_counter() - t, 2), flush=True)
    """
)


def test_adversarial_markup_of_5_mb_is_handled_in_linear_time() -> None:
    # Quadratic regexes needed 0.5 s on 32 KB of "<b" and hours on 5 MB; the deadline is generous
    # (tens of seconds for 25 MB in all) but far below what quadratic work takes.
    out = subprocess.run(
        [sys.executable, "-c", ADVERSARIAL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    print(out.stdout)
    assert len(out.stdout.splitlines()) == 9


def test_the_html_hint_regex_does_no_quadratic_work() -> None:
    # Count the work: the hint may look at each character a bounded number of times.
    for text in ("<b" * 20_000, "< b " * 20_000, "<p " + "a=1 " * 20_000):
        assert n.looks_like_html(text) is False
    assert n.looks_like_html("Hello <b>world</b>") is True
    assert n.looks_like_html("a <b and c") is False  # no closing '>'
