"""The user pool as the depot's commands read it: its users and their driver ids, and passwords read
from a prompt or standard input rather than the command line."""

from __future__ import annotations

import sys
from typing import Any

import click

DRIVER_ID_ATTRIBUTE = "custom:driver_id"


def read_password(given: str | None, from_stdin: bool, *, confirm: bool) -> str | None:
    """The password: given (option or environment), standard input's first line, or a hidden prompt on a
    terminal; None when there is none of these (the caller may make one up)."""
    if given:
        return given
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("--password-stdin: standard input's first line is empty")
        return line
    if sys.stdin.isatty():
        secret: str = click.prompt("password", hide_input=True, confirmation_prompt=confirm)
        return secret
    return None


def users_of(idp: Any, pool_id: str) -> list[dict[str, Any]]:
    """Every user, with their driver id and groups (ListUsers cannot filter on a custom attribute)."""
    found = []
    for page in idp.get_paginator("list_users").paginate(UserPoolId=pool_id):
        for user in page["Users"]:
            attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            found.append(
                {
                    "username": user["Username"],
                    "driver_id": attributes.get(DRIVER_ID_ATTRIBUTE),
                    "enabled": bool(user.get("Enabled", True)),
                    "status": user.get("UserStatus", ""),
                }
            )
    return sorted(found, key=lambda u: u["username"])


def holder_of(idp: Any, pool_id: str, driver_id: str) -> str | None:
    """The user who already has this driver id, if any: one user per driver id."""
    return next((u["username"] for u in users_of(idp, pool_id) if u["driver_id"] == driver_id), None)
