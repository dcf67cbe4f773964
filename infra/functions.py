"""The stack's functions as the template declares them: the one list the local stack, the packaging
and the CLI read (a function added to `infra/template.yaml` is known to all three).

Each `AWS::Serverless::Function` gives its name (the service package its handler lives in), its
handler, and, for the chain's four, the SQS queue its event source maps; the stack's outputs name
that queue's URL and its DLQ's as `<Queue>Url` and `<Queue minus "Queue">DlqUrl`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from infra.template_file import TemplateError, load_template

FUNCTION_TYPE = "AWS::Serverless::Function"


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the service package (services/<name>/) and the artifact (build/<name>.zip)
    handler: str  # module.function, as Lambda calls it
    queue: str | None  # the queue it consumes, by its key (`ingest`, `classify`, ...), if any

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


@dataclass(frozen=True)
class QueueSpec:
    key: str  # what `driver-routing redrive` and StackResources.queues call it
    url_output: str
    dlq_output: str


def _queue_of(properties: dict[str, Any]) -> str | None:
    for event in (properties.get("Events") or {}).values():
        if event.get("Type") == "SQS":
            queue = event["Properties"]["Queue"]
            logical_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else str(queue)
            return str(logical_id)
    return None


def _key(queue_logical_id: str) -> str:
    if not queue_logical_id.endswith("Queue"):
        raise TemplateError(f"queue {queue_logical_id} must be named <Name>Queue")
    return queue_logical_id.removesuffix("Queue").lower()


@lru_cache(maxsize=1)
def functions() -> dict[str, FunctionSpec]:
    """Every function of the template, by name, in the template's order."""
    found: dict[str, FunctionSpec] = {}
    for resource in load_template()["Resources"].values():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        properties = resource["Properties"]
        handler = str(properties["Handler"])
        parts = handler.split(".")
        if len(parts) != 4 or parts[0] != "services" or parts[2] != "handler":
            raise TemplateError(f"handler {handler} is not services.<name>.handler.<function>")
        queue = _queue_of(properties)
        found[parts[1]] = FunctionSpec(parts[1], handler, _key(queue) if queue else None)
    return found


@lru_cache(maxsize=1)
def queues() -> dict[str, QueueSpec]:
    """The queue each queue-fed function consumes, by key, with the outputs that name it and its DLQ."""
    outputs = load_template().get("Outputs", {})
    found: dict[str, QueueSpec] = {}
    for spec in functions().values():
        if spec.queue is None:
            continue
        stem = spec.queue.capitalize()
        queue = QueueSpec(spec.queue, f"{stem}QueueUrl", f"{stem}DlqUrl")
        missing = [name for name in (queue.url_output, queue.dlq_output) if name not in outputs]
        if missing:
            raise TemplateError(f"the template has no output {', '.join(missing)}")
        found[spec.queue] = queue
    return found
