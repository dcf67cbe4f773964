"""The stack itself: parameter values checked, then create_stack, update_stack or nothing, and the wait
until moto's CloudFormation settles."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from driver_routing.stack_outputs import COMPLETE, find_stack
from infra.cfn import parameter_defaults
from infra.template_file import Template
from local.deploy.errors import LocalStackError

log = logging.getLogger(__name__)

STACK_TIMEOUT_S = 120.0

_BROKEN = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}


def parameter_values(template: Template, given: Mapping[str, str] | None) -> dict[str, str]:
    """The template's defaults overridden by `given`, refused before any AWS call when they cannot work."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given or {}) - set(declared))
    if unknown:
        raise ValueError(f"unknown template parameters {unknown}; the template declares {sorted(declared)}")
    values = {**parameter_defaults(template), **{k: str(v) for k, v in (given or {}).items()}}
    timeout, visibility = int(values["FunctionTimeout"]), int(values["QueueVisibilityTimeout"])
    if visibility < timeout:
        # AWS refuses such an event source mapping: a message would reappear while still in work.
        raise ValueError(f"QueueVisibilityTimeout {visibility} s is below FunctionTimeout {timeout} s")
    if visibility < 6 * timeout:
        log.warning("QueueVisibilityTimeout %d s is below 6 x FunctionTimeout (%d s)", visibility, timeout)
    return values


def create_or_update(cfn: Any, stack_name: str, template: Template, values: Mapping[str, str]) -> None:
    """Create the stack, update it when the template or parameters changed, or leave it as it is."""
    request: dict[str, Any] = {
        "StackName": stack_name,
        "TemplateBody": json.dumps(template),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    }
    stack = _wait(cfn, stack_name)  # None when absent; waits out a deploy in progress elsewhere
    if stack is not None and stack["StackStatus"] in _BROKEN:
        log.warning("stack %s is %s: deleting it to create it again", stack_name, stack["StackStatus"])
        cfn.delete_stack(StackName=stack_name)
        stack = _wait(cfn, stack_name)
    if stack is None:
        cfn.create_stack(**request)
    elif _deployed_as(cfn, stack) != (template, dict(values)):
        log.info("stack %s: template or parameters changed, updating", stack_name)
        cfn.update_stack(**request)
    else:
        return
    stack = _wait(cfn, stack_name)
    if stack is None or stack["StackStatus"] not in COMPLETE:
        status = "deleted" if stack is None else f"{stack['StackStatus']}: {stack.get('StackStatusReason')}"
        raise LocalStackError(f"stack {stack_name!r} did not deploy ({status})")


def _deployed_as(cfn: Any, stack: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    body = cfn.get_template(StackName=stack["StackName"])["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    return template, values


def _wait(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while True:
        stack = find_stack(cfn, stack_name)
        if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"stack {stack_name!r} still {stack['StackStatus']} after {STACK_TIMEOUT_S} s"
            )
        time.sleep(0.05)
