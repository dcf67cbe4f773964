"""The four functions: which queue feeds each, and where its Lambda handler lives."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Function:
    name: str
    source_queue: str  # key in StackResources.queues

    @property
    def handler_path(self) -> str:
        return f"services.{self.name}.handler.lambda_handler"

    def load_handler(self) -> Callable[[dict[str, Any], Any], Any]:
        module = importlib.import_module(f"services.{self.name}.handler")
        handler: Callable[[dict[str, Any], Any], Any] = module.lambda_handler
        return handler


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("ingest", "ingest"),
        Function("classifier", "classify"),
        Function("router", "route"),
        Function("capture", "capture"),
    )
}
