"""``python -m tests.alerting.faulty``: the alerting service with a sink that fails on demand.

The real service (`services.alerting.__main__.main`), except that while the file named by
``BRINK_TEST_FAIL_FILE`` exists, sending to the topic named in ``BRINK_TEST_FAIL_TOPIC``
(``alerts``, ``by_group`` or ``deadletter``) fails with ``TopicAuthorizationFailedError``, as a DENY
WRITE ACL makes the broker answer. Removing the file is "fixing the ACL".
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from aiokafka.errors import TopicAuthorizationFailedError

from services.alerting import app
from services.alerting.__main__ import main


class FailingTopic:
    """Wraps a Faust topic: `send` raises while the flag file exists."""

    def __init__(self, topic: Any, flag: Path) -> None:
        self._topic = topic
        self._flag = flag

    async def send(self, **kwargs: Any) -> Any:
        """Like Faust's: the record's future, which fails (as the broker's answer would)."""
        if self._flag.exists():
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(TopicAuthorizationFailedError(self._topic.get_topic_name()))
            return failed
        return await self._topic.send(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._topic, name)


def patch() -> None:
    flag = Path(os.environ["BRINK_TEST_FAIL_FILE"])
    which = os.environ.get("BRINK_TEST_FAIL_TOPIC", "alerts")
    init = app.AlertingService.__init__

    def patched(self: app.AlertingService, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        setattr(self, which, FailingTopic(getattr(self, which), flag))

    app.AlertingService.__init__ = patched  # type: ignore[method-assign]


if __name__ == "__main__":
    patch()
    sys.exit(main())
