"""Start-up checks every service runs before it does anything else: the settings are usable,
and the broker accepts how Brink connects to it.

A security failure (wrong password, a mechanism the broker does not offer, a certificate that
is not trusted or not accepted, a TLS/plain-text mismatch) never heals by retrying, and the
Kafka clients only ever say "Unable to bootstrap" after their own timeout: here the cause is
read from kafka-python's connection errors while it bootstraps, the service writes one line
naming it and exits with `EXIT_SECURITY` (2), usually within a second and at most after
`CHECK_SECONDS`. A broker that is not reachable at all (refused, silent) is not a security
failure: the service logs a warning and starts as it always did, retrying until it is back.

Nothing here runs at import.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from kafka import errors as kafka_errors
from kafka.admin import KafkaAdminClient
from kafka.protocol.sasl import (
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from shared.settings import KafkaSecurity, Settings, SettingsError

log = logging.getLogger(__name__)

EXIT_SECURITY = 2
CHECK_SECONDS = 8.0


class KafkaSecurityError(Exception):
    """The broker refused how Brink connects; ``str()`` names the cause in one line."""


def settings_or_exit(service: str) -> Settings:
    """`Settings.from_env`, or one line naming the wrong variable and exit 2."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        refuse(service, str(exc))


def kafka_or_exit(service: str, settings: Settings) -> None:
    """`check_kafka`, or one line naming the cause and exit 2."""
    try:
        problem = check_kafka(settings)
    except KafkaSecurityError as exc:
        refuse(service, str(exc))
    except SettingsError as exc:  # a TLS file that is not what its variable says
        refuse(service, str(exc))
    if problem:
        log.warning("%s: %s; starting anyway, the clients retry until it answers", service, problem)


def refuse(service: str, cause: str) -> NoReturn:
    """Write ``brink <service>: refusing to start: <cause>`` to stderr and exit 2."""
    one_line = " ".join(cause.split())
    sys.stderr.write(f"brink {service}: refusing to start: {one_line}\n")
    sys.stderr.flush()
    logging.shutdown()
    raise SystemExit(EXIT_SECURITY)


def check_kafka(settings: Settings, timeout: float = CHECK_SECONDS) -> str | None:
    """Connect once as the services will (same `Settings.kafka_python` mapping).

    Returns None when the broker accepted the connection, a description when it could not be
    reached (not a security failure), and raises `KafkaSecurityError` when it refused it.
    """
    sec = settings.security()
    server = settings.bootstrap_servers
    seen: list[BaseException] = []
    sasl = SaslProgress()
    done = threading.Event()
    ok = threading.Event()

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            args = record.args if isinstance(record.args, tuple) else ()
            for arg in args:
                sasl.note(arg)
                error = arg if isinstance(arg, BaseException) else refusal(arg)
                if error is not None:
                    seen.append(error)
                    if is_definitive(error) or (sec.sasl and sasl.inferred(seen)):
                        done.set()

    kafka_log = logging.getLogger("kafka")
    capture = Capture(logging.DEBUG)
    saved = (kafka_log.level, kafka_log.propagate)
    kafka_log.addHandler(capture)
    # DEBUG: the broker's SASL answers are logged as they arrive. The broker sends a refusal
    # and closes the connection right after; when both arrive in one read, kafka-python
    # reports only "socket disconnected", and the answer is the one place the cause is left.
    kafka_log.setLevel(logging.DEBUG)
    kafka_log.propagate = False  # its retries are read here, not printed

    def connect() -> None:
        try:
            admin = KafkaAdminClient(
                client_id="brink-preflight",
                bootstrap_timeout_ms=int(timeout * 1000),
                **settings.kafka_python(),
            )
            admin.close()
            ok.set()
        except Exception as exc:  # read below with what the connections logged
            seen.append(exc)
        finally:
            done.set()

    threading.Thread(target=connect, name="brink-preflight", daemon=True).start()
    done.wait(timeout + 2.0)
    if ok.is_set():
        kafka_log.removeHandler(capture)
        kafka_log.setLevel(saved[0])
        kafka_log.propagate = saved[1]
        return None
    cause = explain(seen, sec, server, sasl=sasl)
    if cause is not None:
        raise KafkaSecurityError(cause)  # the client keeps retrying in its thread: we exit
    kafka_log.removeHandler(capture)
    kafka_log.setLevel(saved[0])
    kafka_log.propagate = saved[1]
    last = f" (last error: {seen[-1]})" if seen else ""
    return f"no Kafka broker answered at {server} within {timeout:.0f} s{last}"


def refusal(response: object) -> BaseException | None:
    """The error a SASL answer from the broker carries, if it is one."""
    code = getattr(response, "error_code", 0)
    if not code:
        return None
    if isinstance(response, SaslAuthenticateResponse):
        message = str(getattr(response, "error_message", "") or "")
        failed: BaseException = kafka_errors.SaslAuthenticationFailedError(message)
        return failed
    if isinstance(response, SaslHandshakeResponse):
        error_type: type[BaseException] = kafka_errors.for_code(code)
        return error_type()
    return None


@dataclass
class SaslProgress:
    """How far SASL got, from kafka-python's debug log. Kafka refuses a mechanism or a login
    by answering and closing the connection at once; when both arrive in one read,
    kafka-python handles the close first, drops the answer and reports only "socket
    disconnected". Where the connections were closed tells what was refused."""

    asked: int = 0  # SaslHandshake requests sent
    accepted: int = 0  # ... that the broker accepted (it offers the mechanism)
    _noted: set[int] = field(default_factory=set)  # kafka-python logs each message twice

    def note(self, arg: object) -> None:
        if id(arg) in self._noted:
            return
        if isinstance(arg, SaslHandshakeRequest):
            self.asked += 1
        elif isinstance(arg, SaslHandshakeResponse) and not getattr(arg, "error_code", 0):
            self.accepted += 1
        else:
            return
        self._noted.add(id(arg))

    def inferred(self, errors: Sequence[BaseException]) -> str:
        """ "login" or "mechanism" when connections keep closing at that step, else ""."""
        closed = sum(
            isinstance(e, kafka_errors.KafkaConnectionError) and "socket disconnected" in str(e)
            for e in errors
        )
        if closed < 2:
            return ""
        if self.accepted:
            return "login"
        return "mechanism" if self.asked >= 2 else ""


def is_definitive(exc: BaseException) -> bool:
    """Errors that retrying cannot mend."""
    return isinstance(
        exc,
        (
            kafka_errors.SaslAuthenticationFailedError,
            kafka_errors.UnsupportedSaslMechanismError,
            kafka_errors.InvalidReceiveError,
        ),
    ) or ("SSL" in str(exc) and ("Handshake" in str(exc) or "ALERT" in str(exc)))


_VERIFY = re.compile(r"certificate verify failed: ([^(]+)")


def explain(
    errors: Sequence[BaseException],
    sec: KafkaSecurity,
    server: str,
    *,
    sasl: SaslProgress | None = None,
) -> str | None:
    """The security failure among ``errors`` as one sentence, or None if there is none.
    ``sasl``: how far SASL got meanwhile."""
    texts = [str(e) for e in errors]
    inferred = sasl.inferred(errors) if sasl is not None and sec.sasl else ""
    refused = any(isinstance(e, kafka_errors.SaslAuthenticationFailedError) for e in errors)
    if refused or inferred == "login":
        return f"authentication failed for user {sec.username} ({sec.mechanism}) at {server}"
    if any(isinstance(e, kafka_errors.UnsupportedSaslMechanismError) for e in errors):
        return (
            f"the broker at {server} does not accept SASL mechanism {sec.mechanism} "
            "(BRINK_SASL_MECHANISM)"
        )
    if inferred == "mechanism":  # or the listener takes no SASL at all: it closes just the same
        return (
            f"the broker at {server} does not accept SASL mechanism {sec.mechanism} "
            "(BRINK_SASL_MECHANISM), or takes no SASL on this listener (BRINK_SECURITY_PROTOCOL)"
        )
    for text in texts:
        if "CERTIFICATE_VERIFY_FAILED" in text:
            match = _VERIFY.search(text)
            why = match.group(1).strip() if match else "certificate verify failed"
            ca = sec.cafile or "the system's CA store"
            return f"TLS: the broker's certificate at {server} is not trusted ({why}; CA: {ca})"
    for text in texts:
        if "CERTIFICATE_REQUIRED" in text or "certificate required" in text:
            return (
                f"TLS: the broker at {server} requires a client certificate "
                "(BRINK_SSL_CERTFILE, BRINK_SSL_KEYFILE)"
            )
    for text in texts:
        if "BAD_CERTIFICATE" in text or "UNKNOWN_CA" in text or "bad certificate" in text:
            given = sec.certfile or "none given"
            return (
                f"TLS: the broker at {server} refused the client certificate ({given}): "
                "missing, or not signed by a CA it trusts"
            )
    for text in texts:
        if "SSL" in text:
            return f"TLS handshake with {server} failed: {text.split('Handshake failed: ')[-1]}"
    if any(isinstance(e, kafka_errors.InvalidReceiveError) for e in errors):
        return (
            f"the broker at {server} does not speak {sec.protocol}: it expects TLS "
            "(BRINK_SECURITY_PROTOCOL=SSL or SASL_SSL)"
        )
    disconnects = sum("socket disconnected" in t for t in texts)
    if disconnects >= 3 and disconnects == sum(
        isinstance(e, kafka_errors.KafkaConnectionError) for e in errors
    ):
        guess = "wrong user or password, or " if sec.sasl else ""
        return (
            f"the broker at {server} closed every connection made with {sec.describe()} "
            f"({disconnects} tries) before answering: {guess}a listener that expects another "
            "BRINK_SECURITY_PROTOCOL?"
        )
    return None
