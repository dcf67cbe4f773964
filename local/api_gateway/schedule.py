"""What EventBridge does for the API locally: its schedule's event every few seconds, and a fault to
inject (the function's process dying at its next publish to SNS, after the review's write).

The template's `ReviewSweep` runs each minute on AWS; locally every `every_s` seconds, so that a
decision left in the outbox reaches subscribers within seconds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

log = logging.getLogger("local.api_gateway")

SCHEDULED_EVENT = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
PUBLISH_OPERATIONS = frozenset({"Publish", "PublishBatch"})


def run_schedule(invoke: Callable[[dict[str, Any]], Any], every_s: float) -> threading.Thread:
    """Invoke the function with the schedule's event every `every_s` seconds, in a daemon thread."""

    def run() -> None:
        while not threading.Event().wait(every_s):
            try:
                invoke(dict(SCHEDULED_EVENT))
            except Exception:
                log.exception("the scheduled invocation failed")

    thread = threading.Thread(target=run, name="schedule", daemon=True)
    thread.start()
    return thread


def die_before_publish_when_asked(request_file: Path) -> None:
    """While `request_file` exists, the process's next SNS publish kills it (SIGKILL's exit status)
    before the call: the function dies between its write and its publish. The file is removed first,
    so the process that starts next runs normally."""
    make_call = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private: botocore's one way in

    def maybe_die(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name in PUBLISH_OPERATIONS and request_file.exists():
            request_file.unlink()
            log.warning("dying before %s, as asked", operation_name)
            os._exit(137)
        return make_call(client, operation_name, api_params)

    setattr(BaseClient, "_make_api_call", maybe_die)  # noqa: B010
