"""The queue-fed functions, as the template declares them (`infra.functions`): which queue feeds each,
and where its Lambda handler lives.

Several execution environments share one poller process, and each must be what a Lambda execution
environment is: a process of its own as far as the handler can tell. `load_handler` imports a fresh
copy of the handler's module and of every module under ISOLATED it imports (the project's services and
shared code, Powertools, and `logging`, which holds Powertools' loggers by service name), so that
module-level and class-level state (the batch processor, Metrics' shared metric set, the logger's keys,
the built-once wiring) is never shared between environments. Everything else (pydantic, boto3, Pillow,
the X-Ray SDK) is imported once for all of them: it holds no per-invocation state. So is
`shared.aws.clients`: boto3 clients are thread-safe and hold no invocation's state, and each client in
a session of its own would cost 4-13 MB per environment.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from infra.functions import functions

ISOLATED = ("services", "shared", "aws_lambda_powertools", "logging")
SHARED = ("shared.aws.clients",)
_importing = threading.Lock()


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def _isolated(name: str) -> bool:
    return _under(name, ISOLATED) and not _under(name, SHARED)


def fresh_import(module_name: str) -> ModuleType:
    """`module_name` and the ISOLATED modules it imports, as copies of their own; `sys.modules` is left as
    it was, so the next call gets other copies."""
    with _importing:
        saved = {name: module for name, module in sys.modules.items() if _isolated(name)}
        for name in saved:
            del sys.modules[name]
        try:
            return importlib.import_module(module_name)
        finally:
            for name in [n for n in sys.modules if _isolated(n)]:
                del sys.modules[name]
            sys.modules.update(saved)


@dataclass(frozen=True)
class Function:
    name: str
    source_queue: str  # key in StackResources.queues
    handler_path: str  # module.function, as the template's Handler says

    @property
    def handler_module(self) -> str:
        return self.handler_path.rsplit(".", 1)[0]

    def load_handler(self) -> Callable[[dict[str, Any], Any], Any]:
        """The handler of a new execution environment (see the module's docstring)."""
        name = self.handler_path.rsplit(".", 1)[1]
        handler: Callable[[dict[str, Any], Any], Any] = getattr(fresh_import(self.handler_module), name)
        return handler


FUNCTIONS: dict[str, Function] = {
    spec.name: Function(spec.name, spec.queue, spec.handler)
    for spec in functions().values()
    if spec.queue is not None
}
