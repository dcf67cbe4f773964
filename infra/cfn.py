"""The SAM template as data: load it, translate it to plain CloudFormation, resolve its intrinsics.

No AWS call happens here. `local.deploy` deploys the result into moto; the tests read the same data.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from samtranslator.metrics.metrics import Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from infra.template_file import Template, TemplateError

# What `sam package` would put in place of the local CodeUri: the translator only accepts S3 URIs.
PLACEHOLDER_CODE_URI = "s3://driver-routing-local-placeholder/code.zip"

# Resources the local stack leaves out: moto would invoke the functions through Docker whenever a
# message reaches a mapped queue. The project's pollers play the event-source mappings locally.
LOCAL_DROPPED_TYPES = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::Url",
        # A schedule's target is a function; locally the API front runs the API's schedule itself.
        "AWS::Events::Rule",
    }
)
# The user pool, its client and groups: `local.identity` creates them with boto3 from this template's
# properties once the stack is up (so the local API front knows the pool), and verifies them.
LOCAL_IDENTITY_TYPES = frozenset(
    {"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup"}
)


def parameter_defaults(template: Template) -> dict[str, str]:
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


# ---------------------------------------------------------------- SAM translation


class _NoManagedPolicies:
    """The managed-policy loader samtranslator wants; the template names no managed policy by name."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: Template, *, region: str, parameters: Mapping[str, str] | None = None) -> Template:
    """SAM → plain CloudFormation, locally (samtranslator, no AWS call); local CodeUris → placeholders."""
    sam = copy.deepcopy(template)
    function_globals = sam.get("Globals", {}).get("Function", {})
    if _is_local_path(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = PLACEHOLDER_CODE_URI
    for resource in sam["Resources"].values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and _is_local_path(props.get("CodeUri")):
            props["CodeUri"] = PLACEHOLDER_CODE_URI
    values: dict[str, Any] = {"AWS::Region": region, **(parameters or {})}
    metrics = Metrics()  # its default publisher drops them; publishing stops a warning at garbage collection
    session = boto3.session.Session(region_name=region)
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    try:
        translated: Template = translator.translate(
            sam, parameter_values=values, get_managed_policy_map=_NoManagedPolicies().load
        )
    except Exception as error:  # samtranslator raises its own exception types, listing every problem
        raise TemplateError(f"SAM translation failed: {error}") from error
    finally:
        metrics.publish()
    return translated


def _is_local_path(code_uri: Any) -> bool:
    return isinstance(code_uri, str) and not code_uri.startswith("s3://")


def without_functions(template: Template) -> Template:
    """The template minus the Lambda resources, and whatever refers to them (fixpoint)."""
    result = copy.deepcopy(template)
    resources: dict[str, Any] = result["Resources"]
    left_out = LOCAL_DROPPED_TYPES | LOCAL_IDENTITY_TYPES
    dropped = {name for name, res in resources.items() if res.get("Type") in left_out}
    changed = True
    while changed:
        changed = False
        for name, res in resources.items():
            if name not in dropped and references(res) & dropped:
                dropped.add(name)
                changed = True
    for name in dropped:
        del resources[name]
    outputs = result.get("Outputs", {})
    for name in [n for n, out in outputs.items() if references(out) & dropped]:
        del outputs[name]
    return result


def references(node: Any) -> set[str]:
    """Logical ids a node names through Ref, Fn::GetAtt, Fn::Sub or DependsOn."""
    found: set[str] = set()
    for key, value in _walk(node):
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            target = value.split(".", 1)[0] if isinstance(value, str) else value[0]
            found.add(target)
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            found.update(m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(text))
        elif key == "DependsOn":
            found.update([value] if isinstance(value, str) else value)
    return {name for name in found if not name.startswith("AWS::")}


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res.get("Type") == resource_type}


# ---------------------------------------------------------------- intrinsic functions

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")
_NO_VALUE = object()


@dataclass(frozen=True)
class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select and Fn::Split against known values.

    `values` holds parameters, pseudo parameters (AWS::Region...) and each resource's Ref value;
    `attribute(logical_id, name)` answers Fn::GetAtt.
    """

    values: Mapping[str, str]
    attribute: Callable[[str, str], str]

    def resolve(self, node: Any) -> Any:
        result = self._resolve(node)
        return None if result is _NO_VALUE else result

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self._resolve(i) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self._ref(arg)
            if key == "Fn::GetAtt":
                name, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.attribute(name, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                delimiter, items = arg
                return str(delimiter).join(str(i) for i in self._resolve(items))
            if key == "Fn::Select":
                index, items = self._resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                delimiter, text = self._resolve(arg)
                return str(text).split(delimiter)
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{key} is not supported by the local resolver")
        return {k: v for k, v in ((k, self._resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def _ref(self, name: str) -> str:
        if name not in self.values:
            raise TemplateError(f"cannot resolve Ref {name}")
        return self.values[name]

    def _sub(self, arg: Any) -> str:
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self._resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in local:
                return str(local[name])
            if "." in name:  # ${Resource.Attribute}; parameter names have no dots
                logical_id, attr = name.split(".", 1)
                return self.attribute(logical_id, attr)
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")
