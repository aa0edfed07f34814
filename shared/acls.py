"""What each Brink user may do on a cluster with an authorizer: the ACL table, derived from the
topic names (`shared.topics`) and the services' group ids, and a way to apply it.

``deploy/kafka/acls.sh`` runs ``python -m shared.acls`` as the cluster's admin; the table in
docs/security.md is ``python -m shared.acls table``. Users are the service names (a SCRAM
user, or the CN of a client certificate: the broker maps ``CN=ingest`` to ``User:ingest``).

Each service gets DESCRIBE on every Brink topic (they list topics at start and create only the
missing ones), READ on what it consumes, WRITE on what it produces, and everything on its own
internal topics and consumer group, named ``<prefix>brink-<service>...``. Nothing on the cluster
itself, nothing on another service's state. Nothing here runs at import.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.topics import Topics

READ, WRITE, CREATE, DESCRIBE, DESCRIBE_CONFIGS = (
    "READ",
    "WRITE",
    "CREATE",
    "DESCRIBE",
    "DESCRIBE_CONFIGS",
)
OWN = (READ, WRITE, CREATE, DESCRIBE, DESCRIBE_CONFIGS)  # on a service's own internal topics
SERVICES = ("ingest", "enrichment", "alerting")
USERS = (*SERVICES, "publisher", "reader")


@dataclass(frozen=True, slots=True)
class Grant:
    """ALLOW ``operations`` to ``User:<user>`` on one resource pattern."""

    user: str
    resource: str  # "topic" | "group"
    name: str
    prefixed: bool
    operations: tuple[str, ...]
    why: str = ""


def grants(prefix: str = "", users: Iterable[str] = USERS) -> list[Grant]:
    """The ACL table for the pipeline under topic ``prefix``, for ``users``."""
    t = Topics(prefix)
    every = (prefix, True) if prefix else ("*", False)  # "*": every topic (literal wildcard)
    table: dict[str, list[Grant]] = {
        "ingest": [
            Grant("ingest", "topic", t.raw, False, (READ, WRITE), "consumes; HTTP API and feeds"),
            Grant("ingest", "topic", t.articles, False, (WRITE,), "produces"),
            Grant("ingest", "topic", t.deadletter, False, (WRITE,), "dead letters"),
        ],
        "enrichment": [
            Grant("enrichment", "topic", t.articles, False, (READ,), "consumes"),
            Grant("enrichment", "topic", t.enriched, False, (WRITE,), "produces"),
            Grant("enrichment", "topic", t.deadletter, False, (WRITE,), "dead letters"),
        ],
        "alerting": [
            Grant("alerting", "topic", t.enriched, False, (READ,), "consumes"),
            Grant("alerting", "topic", t.silences, False, (READ,), "silences"),
            Grant("alerting", "topic", t.alerts, False, (WRITE,), "produces"),
            Grant("alerting", "topic", t.deadletter, False, (WRITE,), "dead letters"),
        ],
        "publisher": [
            Grant("publisher", "topic", t.raw, False, (WRITE, DESCRIBE), "brink publish"),
        ],
        "reader": [
            Grant("reader", "topic", t.alerts, False, (READ, DESCRIBE), "brink alerts"),
            Grant("reader", "topic", t.silences, False, (READ, WRITE, DESCRIBE), "brink silence"),
        ],
    }
    for service in SERVICES:
        own = f"{prefix}brink-{service}"
        table[service] += [
            Grant(service, "topic", every[0], every[1], (DESCRIBE,), "list topics at start"),
            Grant(service, "topic", own, True, OWN, "its state, changelogs, internal topics"),
            Grant(service, "group", own, True, (READ, DESCRIBE), "its consumer group"),
        ]
    out: list[Grant] = []
    for user in users:
        if user not in table:
            raise ValueError(f"unknown Brink user {user!r}; known: {', '.join(USERS)}")
        out += table[user]
    return out


def markdown(prefix: str = "") -> str:
    """The table as Markdown (docs/security.md)."""
    rows = [
        "| user | resource | name | pattern | operations | why |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for g in grants(prefix):
        pattern = "prefixed" if g.prefixed else "literal"
        ops = ", ".join(g.operations)
        rows.append(f"| {g.user} | {g.resource} | `{g.name}` | {pattern} | {ops} | {g.why} |")
    return "\n".join(rows) + "\n"


def _bindings(items: Sequence[Grant]) -> list[Any]:
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    out: list[Any] = []
    for g in items:
        pattern = ResourcePattern(
            ResourceType.TOPIC if g.resource == "topic" else ResourceType.GROUP,
            g.name,
            ACLResourcePatternType.PREFIXED if g.prefixed else ACLResourcePatternType.LITERAL,
        )
        for op in g.operations:
            out.append(
                ACL(
                    principal=f"User:{g.user}",
                    host="*",
                    operation=ACLOperation[op],
                    permission_type=ACLPermissionType.ALLOW,
                    resource_pattern=pattern,
                )
            )
    return out


def apply(items: Sequence[Grant], *, revoke: bool = False) -> int:
    """Create (or delete) the ACLs of ``items`` as the user of ``BRINK_*`` (the admin)."""
    from kafka.admin import ACLFilter, KafkaAdminClient

    from shared.settings import Settings

    admin = KafkaAdminClient(client_id="brink-acls", **Settings.from_env().kafka_python())
    try:
        acls = _bindings(items)
        if revoke:
            filters = [
                ACLFilter(
                    principal=a.principal,
                    host=a.host,
                    operation=a.operation,
                    permission_type=a.permission_type,
                    resource_pattern=a.resource_pattern,
                )
                for a in acls
            ]
            admin.delete_acls(filters)
        else:
            result = admin.create_acls(acls)
            failed = result.get("failed") or []
            if failed:
                raise RuntimeError(f"{len(failed)} ACLs not created: {failed[:3]}")
        return len(acls)
    finally:
        admin.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acls.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("grant", "revoke", "table"))
    parser.add_argument(
        "--prefix",
        default=os.environ.get("BRINK_TOPIC_PREFIX", ""),
        help="topic prefix of the pipeline (BRINK_TOPIC_PREFIX)",
    )
    parser.add_argument("--user", action="append", choices=USERS, help="only these users")
    args = parser.parse_args(argv)
    if args.action == "table":
        sys.stdout.write(markdown(args.prefix))
        return 0
    items = grants(args.prefix, args.user or USERS)
    n = apply(items, revoke=args.action == "revoke")
    verb = "revoked" if args.action == "revoke" else "granted"
    print(f"acls: {verb} {n} ACLs for {', '.join(args.user or USERS)} (prefix {args.prefix!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
