"""Publish one JSON Schema per topic into ``schemas/`` so non-Python clients can produce/consume.

``python -m shared.jsonschema`` rewrites the files; ``--check`` exits 1 when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from shared.schemas import TOPIC_MODELS

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def render() -> dict[str, bytes]:
    """File name -> JSON Schema bytes, for every topic."""
    out: dict[str, bytes] = {}
    for topic, model in TOPIC_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="serialization")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"brink:{topic}",
            "x-kafka-topic": topic,
            **schema,
        }
        out[f"{topic}.schema.json"] = (
            orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = []
    for name, content in render().items():
        path = SCHEMA_DIR / name
        if path.exists() and path.read_bytes() == content:
            continue
        stale.append(name)
        if not check:
            SCHEMA_DIR.mkdir(exist_ok=True)
            path.write_bytes(content)
    if check and stale:
        sys.stderr.write(
            "stale JSON Schemas (run `python -m shared.jsonschema`): " + ", ".join(stale) + "\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
