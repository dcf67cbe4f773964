"""What the local stack's deployer raises, and the AWS error code its checks report."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from driver_routing.stack_outputs import StackError


class LocalStackError(StackError):
    """The local stack could not be deployed."""


class StackVerificationError(LocalStackError):
    """The stack reached CREATE_COMPLETE but resources differ from the template."""

    def __init__(self, stack_name: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listing = "\n  - ".join(self.problems)
        super().__init__(f"stack {stack_name!r} does not match infra/template.yaml:\n  - {listing}")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
