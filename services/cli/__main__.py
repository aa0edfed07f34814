"""`brink` entry point: each subcommand lives in its own module with `add_parser` and `run`."""

from __future__ import annotations

import argparse
import importlib
import sys

from shared.preflight import refuse
from shared.settings import SettingsError

# subcommand -> module under services.cli; imported only when used (spaCy loads slowly).
COMMANDS = {
    "publish": "Publish articles from files, folders or stdin to articles.raw.",
    "alerts": "Show alerts from the alerts topic (optionally following).",
    "analyze": "Run enrichment and per-article rules offline on a file of articles.",
    "silence": "Silence an alert group (or actor/target/rule) for a while; list or lift silences.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brink", description="Escalation alerts from news.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"services.cli.{name}")
        module.add_parser(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"services.cli.{args.command}")
    try:
        return int(module.run(args))
    except SettingsError as exc:  # one line naming the variable, exit 2, like the services
        refuse(args.command, str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `brink alerts | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
