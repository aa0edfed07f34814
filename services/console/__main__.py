"""``python -m services.console``: settings -> logging -> topics -> store -> web server ->
the materialising consumer (on the main thread, until SIGTERM). With
``BRINK_CONSOLE_MODE=receiver`` it runs the webhook receiver instead (`services.console.receiver`).
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from services.alerting.rules import RulesError, load_rules
from services.console.config import ConsoleConfig
from services.console.consumer import ControlWriter, Materialiser, ensure_console_topics
from services.console.store import SqliteStore, Topics
from services.console.web import Console
from shared.logs import configure
from shared.settings import Settings, SettingsError

log = logging.getLogger("services.console")


def main() -> int:
    settings = Settings.from_env()
    try:
        config = ConsoleConfig.from_env(settings)
    except SettingsError as exc:
        print(f"console: refusing to start: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level)
    if config.mode == "receiver":
        from services.console.receiver import run_receiver

        return run_receiver(settings, config)
    try:
        rules = load_rules(settings.rules_path)
    except RulesError as exc:
        print(f"console: refusing to start, the rules file is malformed: {exc}", file=sys.stderr)
        return 2
    ensure_console_topics(settings)
    t = settings.topics
    store = SqliteStore(config.db_path, Topics(t.alerts, t.enriched, t.silences, t.feedback))
    materialiser = Materialiser(settings, store)
    writer = ControlWriter(settings)

    def health() -> tuple[bool, dict[str, object]]:
        details: dict[str, object] = {"store": store.counts()}
        if materialiser.error:
            return False, {**details, "reason": materialiser.error}
        if not materialiser.ready.is_set():
            return False, {**details, "reason": "reading the topics into the store"}
        return True, details

    console = Console(settings, config, store=store, writer=writer, rules=rules, ready=health)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        materialiser.stop()
        console.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.server.start()
    log.info(
        "console: http://%s:%d/ (store %s, token %s)",
        config.host,
        console.server.port,
        config.db_path,
        "required for write actions" if config.token else "not set",
    )
    try:
        materialiser.run()
    finally:
        console.stopping.set()
        console.server.stop()
        writer.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
