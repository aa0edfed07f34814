"""Receiver mode: POSTs new alerts to webhooks from the latest offset (no history), signed with
HMAC-SHA256 when a secret is set; the Slack body template."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from services.console.receiver import sign, slack_body
from shared import codec
from shared.settings import Settings
from tests.alerting.webhook import WebhookServer
from tests.conftest import wait_for
from tests.console.helpers import console_env, produce
from tests.console.test_restart import make_alert

SECRET = "hook-secret"


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"id": "x"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == "sha256=" + expected


def test_slack_body_is_an_incoming_webhook_message_with_escaped_text() -> None:
    alert = make_alert(1).model_copy(update={"title": "Russia <!channel> & co"})
    message = json.loads(slack_body(alert, "https://console.example"))
    assert message["text"].startswith(":warning: *WARNING* Russia &lt;!channel&gt; &amp; co")
    assert (
        "<https://console.example/alerts/alert-0001|Open in the Brink console>" in message["text"]
    )
    assert message["blocks"][0]["text"]["type"] == "mrkdwn"


@pytest.mark.kafka
def test_a_new_receiver_posts_new_alerts_only_signed(
    settings: Settings, start_service: Any
) -> None:
    old = [make_alert(i) for i in range(3)]
    produce(settings, settings.topics.alerts, [(a.group.key, codec.encode(a)) for a in old])
    hook = WebhookServer()
    try:
        start_service(
            "console",
            settings,
            **console_env(
                BRINK_CONSOLE_MODE="receiver",
                BRINK_CONSOLE_RECEIVER_URLS=hook.url,
                BRINK_CONSOLE_RECEIVER_SECRET=SECRET,
            ),
        )
        # one new alert on every partition (the old ones are spread over them too)
        new = [make_alert(i) for i in range(10, 17)]
        produce(settings, settings.topics.alerts, [(a.group.key, codec.encode(a)) for a in new])
        wait_for(lambda: len(hook.bodies) >= len(new), timeout=20, message="new alerts POSTed")
        # every partition's new alert came after its old ones: none of those was sent
        assert sorted(b["id"] for b in hook.bodies) == sorted(a.id for a in new)
        assert hook.headers[0]["X-Brink-Signature"] == sign(SECRET, hook.raw[0])
        assert codec.decode(hook.raw[0], type(new[0])) in new
    finally:
        hook.close()
