"""docs/security.md shows the ACL table that `acls.sh grant` applies (`shared.acls`)."""

from __future__ import annotations

from shared.acls import grants, markdown
from tests.conftest import ROOT


def test_the_documented_acl_table_is_the_applied_one() -> None:
    doc = (ROOT / "docs" / "security.md").read_text()
    assert markdown() in doc, "run `deploy/kafka/acls.sh table` and paste it into docs/security.md"


def test_no_service_may_touch_another_services_state_or_the_cluster() -> None:
    for g in grants("p."):
        assert g.resource in {"topic", "group"}
        assert "ALTER" not in g.operations and "DELETE" not in g.operations
        if g.name.startswith("p.brink-"):
            assert g.name == f"p.brink-{g.user}", g
    writers = {g.user for g in grants("p.") if g.name == "p.alerts" and "WRITE" in g.operations}
    assert writers == {"alerting"}
