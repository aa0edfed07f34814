"""`brink alerts` (reads the topic, filters, output format) and `brink silence`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from kafka import KafkaProducer

from services.alerting.rules import load_rules
from services.cli.__main__ import main
from services.cli.alerts import COLOURS, DIM, OFF, format_alert, matches
from shared import codec
from shared.schemas import Alert, Modality, SignalKind
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import produce
from tests.conftest import ROOT, metric_value, settings_env, wait_for


def sample_alerts() -> list[Alert]:
    rules = load_rules()
    buildup = rules.evaluate_article(enriched("a1"))
    pressure = rules.evaluate_article(
        enriched(
            "a2",
            [
                signal(
                    SignalKind.SANCTIONS,
                    "NATO",
                    "Russia",
                    modality=Modality.DEMANDED,
                    sentence="Allies called for sanctions on Moscow.",
                    cue="called for sanctions",
                )
            ],
            at=T0 + (T0 - T0.replace(hour=7)),
        )
    )
    return [*buildup, *pressure]


def args(**kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = {
        "min_severity": "info",
        "actor": [],
        "target": [],
        "kind": [],
        "rule": [],
    }
    return argparse.Namespace(**{**base, **kw})


def test_readable_format_has_one_headline_and_indented_evidence() -> None:
    alert = sample_alerts()[0]
    lines = format_alert(alert).splitlines()
    assert lines[0].startswith("2021-04-13 08:00Z WARNING ")
    assert "Russia → Ukraine: military buildup reported by Wire A" in lines[0]
    assert alert.id[:12] in lines[0]
    assert lines[1] == "    Russia has massed troops near its border with Ukraine."
    assert lines[2].startswith("      ↳ military_buildup: “massed troops”")
    assert "\033[" not in format_alert(alert)
    assert "\033[" in format_alert(alert, colour=True)


def test_filters() -> None:
    buildup, pressure = sample_alerts()
    assert matches(buildup, args())
    assert not matches(pressure, args(min_severity="warning"))
    assert matches(pressure, args(actor=["nato"]))
    assert not matches(buildup, args(actor=["NATO"]))
    assert matches(buildup, args(kind=["military_buildup", "threat"]))
    assert not matches(buildup, args(kind=["sanctions"]))
    assert matches(pressure, args(target=["Russia"], rule=["sanctions-pressure"]))
    # ISO / org codes as well as names (issue 11: the README's --actor RUS matched nothing)
    assert matches(buildup, args(actor=["RUS"], target=["ukr"]))
    assert matches(pressure, args(actor=["NATO"], target=["RUS"]))
    assert not matches(buildup, args(actor=["UKR"]))


def test_text_output_shows_the_group_key_and_the_event_codes() -> None:
    alert = sample_alerts()[0]
    lines = format_alert(alert).splitlines()
    assert f"group {alert.group.key}" in lines[0]  # what `brink silence --group` takes
    assert "[CAMEO 15, MOBILIZE]" in lines[2]
    assert (alert.evidence[0].cameo, alert.evidence[0].plover) == ("15", "MOBILIZE")
    assert (alert.evidence[0].actor_code, alert.evidence[0].target_code) == ("RUS", "UKR")


EVIL = "\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\r"
# Bytes a terminal acts on: ESC, BEL, CR, C1 CSI (UTF-8), the bidi override (UTF-8).
RAW_CONTROLS = (b"\x1b", b"\x07", b"\r", b"\xc2\x9b", b"\xe2\x80\xae")


def evil_alert() -> Alert:
    """An alert whose every article-derived text carries terminal control sequences."""
    alert = sample_alerts()[0]
    article = alert.articles[0].model_copy(
        update={"title": "Title " + EVIL, "source": "Source " + EVIL}
    )
    evidence = [
        ev.model_copy(update={"sentence": "Sentence " + EVIL + "\nfake line", "cue": EVIL})
        for ev in alert.evidence
    ]
    return alert.model_copy(
        update={
            "summary": "Summary " + EVIL,
            "title": EVIL,
            "articles": [article, *alert.articles[1:]],
            "evidence": evidence,
            "group": alert.group.model_copy(update={"actors": [EVIL]}),
        }
    )


def test_readable_format_escapes_what_a_terminal_would_obey() -> None:
    alert = evil_alert()
    text = format_alert(alert, colour=True)
    assert r"Summary \x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\x0d" in text  # shown, escaped
    for code in (*COLOURS.values(), DIM, OFF):
        text = text.replace(code, "")  # our own colours (on a terminal only) are the exception
    assert not [raw for raw in RAW_CONTROLS if raw in text.encode()]
    # "\nfake line" inside a sentence does not start a line of its own
    assert len(text.splitlines()) == 1 + 2 * len(alert.evidence)


@pytest.mark.kafka
def test_brink_alerts_prints_no_raw_control_bytes(settings: Settings) -> None:
    alert = evil_alert()
    producer = KafkaProducer(**settings.kafka_python())
    producer.send(settings.topics.alerts, key=b"k", value=codec.encode(alert))
    producer.flush()
    producer.close()
    for extra in ([], ["--json"]):
        out = subprocess.run(
            [sys.executable, "-m", "services.cli", "alerts", "--from-beginning", *extra],
            cwd=ROOT,
            env=settings_env(settings),
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        assert b"pwned" in out, out
        assert not [raw for raw in RAW_CONTROLS if raw in out], out
        if extra:
            assert json.loads(out) == json.loads(codec.encode(alert))


@pytest.mark.kafka
def test_brink_alerts_reads_the_topic_filters_and_prints(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRINK_BOOTSTRAP_SERVERS", settings.bootstrap_servers)
    monkeypatch.setenv("BRINK_TOPIC_PREFIX", settings.topic_prefix)
    alerts = sample_alerts()
    producer = KafkaProducer(**settings.kafka_python())
    for a in alerts:
        producer.send(settings.topics.alerts, key=a.group.key.encode(), value=codec.encode(a))
    producer.flush()
    producer.close()

    assert main(["alerts", "--from-beginning"]) == 0
    out = capsys.readouterr().out
    headlines = [ln for ln in out.splitlines() if not ln.startswith(" ")]
    assert len(headlines) == 2
    assert "military buildup" in headlines[0]
    assert "called for sanctions" in out

    assert main(["alerts", "--from-beginning", "--min-severity", "warning", "--json"]) == 0
    got = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert [g["id"] for g in got] == [alerts[0].id]

    assert main(["alerts", "--from-beginning", "--actor", "NATO", "--json"]) == 0
    assert [json.loads(ln)["rule"] for ln in capsys.readouterr().out.splitlines()] == [
        "sanctions-pressure"
    ]
    assert main(["alerts", "--from-beginning", "--kind", "threat"]) == 0
    assert capsys.readouterr().out == ""

    # --follow prints new alerts as they arrive (sent until the follower, which starts at the
    # end of the topic once it is assigned, has printed one)
    env = settings_env(settings)
    follower = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "alerts", "--follow", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert follower.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(follower.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    later = load_rules().evaluate_article(enriched("a3", at=T0.replace(hour=12)))[0]
    producer = KafkaProducer(**settings.kafka_python())
    try:

        def send_and_look() -> bool:
            producer.send(settings.topics.alerts, key=b"k", value=codec.encode(later))
            producer.flush()
            return bool(lines)

        wait_for(send_and_look, timeout=30, interval=0.5, message="--follow output")
        assert json.loads(lines[0])["id"] == later.id
    finally:
        producer.close()
        follower.terminate()
        follower.wait(15)


@pytest.mark.kafka
def test_brink_silence_silences_a_pair_in_the_service_and_can_be_listed_and_lifted(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    start_service: Any,
) -> None:
    monkeypatch.setenv("BRINK_BOOTSTRAP_SERVERS", settings.bootstrap_servers)
    monkeypatch.setenv("BRINK_TOPIC_PREFIX", settings.topic_prefix)
    start = T0.replace(hour=0).isoformat()
    code = main(
        ["silence", "--actor", "Russia", "--target", "Ukraine", "--starts", start, "--for", "1d"]
    )
    assert code == 0
    sid = capsys.readouterr().out.split()[1]

    svc = start_service("alerting", settings)
    produce(settings, [enriched("a1"), enriched("a2", [signal(target="Poland")])])
    wait_for(
        lambda: (
            metric_value(svc.metrics(), "brink_alerting_suppressed_total", reason="silenced") >= 1
        ),
        message="silenced",
    )
    wait_for(
        lambda: (
            metric_value(
                svc.metrics(),
                "brink_alerting_alerts_total",
                rule="buildup-or-mobilization",
                severity="warning",
            )
            == 1
        ),
        message="the other pair alerts",
    )
    assert main(["silence", "--list"]) == 0
    listed = capsys.readouterr().out
    assert sid in listed
    assert "actor=Russia" in listed
    assert main(["silence", "--expire", sid]) == 0
    capsys.readouterr()
    assert main(["silence", "--list"]) == 0
    assert sid not in capsys.readouterr().out


@pytest.mark.kafka
def test_brink_silence_group_refuses_an_unknown_key_and_names_an_alert_id(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BRINK_BOOTSTRAP_SERVERS", settings.bootstrap_servers)
    monkeypatch.setenv("BRINK_TOPIC_PREFIX", settings.topic_prefix)
    alert = sample_alerts()[0]
    producer = KafkaProducer(**settings.kafka_python())
    producer.send(settings.topics.alerts, key=alert.group.key.encode(), value=codec.encode(alert))
    producer.flush()
    producer.close()

    assert main(["silence", "--group", "0123456789abcdef"]) == 2
    assert "no alert on" in capsys.readouterr().err
    assert main(["silence", "--group", alert.id]) == 2
    err = capsys.readouterr().err
    assert "is an alert id" in err and alert.group.key in err
    assert main(["silence", "--group", alert.group.key, "--for", "1h"]) == 0
    assert capsys.readouterr().out.startswith("silence ")
    assert main(["silence", "--group", "0123456789abcdef", "--force"]) == 0
