"""Reading the SAM template as data (YAML only: the CLI reads it on a plain install, without the SAM
translator that `infra.cfn` needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).with_name("template.yaml")

Template = dict[str, Any]


class TemplateError(ValueError):
    """The template cannot be read, translated or resolved."""


# ---------------------------------------------------------------- loading


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short forms (!Ref, !GetAtt, !Sub...) as long forms."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    """The template as a dict, short-form intrinsics turned into their long forms."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return data
