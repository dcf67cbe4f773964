"""`driver-routing add-user | sign-in | drive`: the people at the edges, against the local stack or AWS.

The user pool, its client and the API's URL come from the running local stack's record, or from the
deployed stack's outputs (UserPoolId, UserPoolClientId, ApiUrl).
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from driver_routing.connection import aws_client, use_local_stack_if_running
from driver_routing.output import emit_json
from driver_routing.stack_outputs import DEFAULT_STACK_NAME, StackError, StackNotFoundError, find_stack
from driver_routing.user_pool import holder_of, read_password

stack_option = click.option(
    "--stack-name", default=DEFAULT_STACK_NAME, show_default=True, envvar="DRIVER_ROUTING_STACK"
)
password_option = click.option(
    "--password",
    envvar="DRIVER_ROUTING_PASSWORD",
    help="The user's password; better: the prompt, --password-stdin or $DRIVER_ROUTING_PASSWORD.",
)
password_stdin_option = click.option(
    "--password-stdin", "from_stdin", is_flag=True, help="Read the password from standard input's first line."
)


@dataclass(frozen=True)
class People:
    api_url: str
    user_pool_id: str
    client_id: str


def find_people(stack_name: str) -> People:
    use_local_stack_if_running()
    env = os.environ
    if env.get("DRIVER_ROUTING_API_URL") and env.get("USER_POOL_ID") and env.get("USER_POOL_CLIENT_ID"):
        return People(env["DRIVER_ROUTING_API_URL"], env["USER_POOL_ID"], env["USER_POOL_CLIENT_ID"])
    stack = find_stack(aws_client("cloudformation"), stack_name)
    if stack is None:
        raise StackNotFoundError(f"no deployed stack {stack_name!r}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [k for k in ("ApiUrl", "UserPoolId", "UserPoolClientId") if k not in outputs]
    if missing:
        raise StackError(f"stack {stack_name!r} lacks outputs {missing}")
    return People(outputs["ApiUrl"], outputs["UserPoolId"], outputs["UserPoolClientId"])


def new_password() -> str:
    """One the template's policy accepts (12+, upper, lower, digit)."""
    alphabet = string.ascii_letters + string.digits
    return "Dr1" + "".join(secrets.choice(alphabet) for _ in range(17))


def create_user(
    idp: Any, pool_id: str, username: str, password: str, driver_id: str | None, depot_id: str | None = None
) -> str:
    """A driver (with a driver id) or a dispatcher, at a depot (default: the rules' default depot)."""
    from services.router.rules import load_rules

    attributes = [{"Name": "custom:depot_id", "Value": depot_id or load_rules().default_depot}]
    if driver_id:
        attributes.append({"Name": "custom:driver_id", "Value": driver_id})
    idp.admin_create_user(
        UserPoolId=pool_id, Username=username, UserAttributes=attributes, MessageAction="SUPPRESS"
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    group = "drivers" if driver_id else "dispatchers"
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return group


@click.command("add-user")
@click.argument("username")
@click.option("--driver-id", help="A driver, with this driver id (1-64 of A-Z a-z 0-9 _ -).")
@click.option("--dispatcher", is_flag=True, help="A dispatcher.")
@click.option("--depot", "depot_id", default=None, help="Their depot (default: the rules' default depot).")
@password_option
@password_stdin_option
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def add_user(
    username: str,
    driver_id: str | None,
    dispatcher: bool,
    depot_id: str | None,
    password: str | None,
    from_stdin: bool,
    stack_name: str,
    as_json: bool,
) -> None:
    """Create USERNAME in the user pool: a driver (--driver-id) or a dispatcher (--dispatcher), at a
    depot of the routing rules (--depot).

    The password is prompted for on a terminal (or read with --password-stdin); with neither, one is
    made up and printed. One user per driver id: a second is refused."""
    from services.router.rules import load_rules
    from shared.photo_keys import DRIVER_ID

    if bool(driver_id) == dispatcher:
        raise click.UsageError("give exactly one of --driver-id ID and --dispatcher")
    if driver_id and not DRIVER_ID.fullmatch(driver_id):
        raise click.BadParameter(
            "1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit", param_hint="--driver-id"
        )
    rules = load_rules()
    depot = depot_id or rules.default_depot
    if depot not in rules.depots:
        raise click.BadParameter(f"one of {', '.join(rules.depots)}", param_hint="--depot")
    given = read_password(password, from_stdin, confirm=True)
    people = find_people(stack_name)
    idp = aws_client("cognito-idp")
    holder = holder_of(idp, people.user_pool_id, driver_id) if driver_id else None
    if holder is not None:
        raise click.ClickException(
            f"driver id {driver_id} already belongs to {holder}: one user per driver id "
            f"(`driver-routing users delete {holder}` frees it)"
        )
    chosen = given or new_password()
    group = create_user(idp, people.user_pool_id, username, chosen, driver_id, depot)
    click.echo(f"{username}: {group} at {depot}" + (f", driver id {driver_id}" if driver_id else ""))
    if not given:
        click.echo(f"password: {chosen}")
    if as_json:
        summary = {"username": username, "group": group, "driver_id": driver_id, "depot_id": depot}
        emit_json({**summary, "password": chosen})


@click.command("sign-in")
@click.argument("username")
@password_option
@password_stdin_option
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def sign_in_command(
    username: str, password: str | None, from_stdin: bool, stack_name: str, as_json: bool
) -> None:
    """Sign USERNAME in and print an ID token for scripts (Authorization: Bearer TOKEN)."""
    from driver_routing.driver_app import sign_in

    people = find_people(stack_name)
    secret = read_password(password, from_stdin, confirm=False) or click.prompt("password", hide_input=True)
    token = sign_in(aws_client("cognito-idp"), people.client_id, username, secret)
    if as_json:
        emit_json({"id_token": token, "api_url": people.api_url})
    else:
        click.echo(token)


@click.command()
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="The driver's user name.")
@password_option
@password_stdin_option
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for a final answer.")
@click.option("--no-wait-review", is_flag=True, help="Stop at manual review instead of waiting for it.")
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def drive(
    photo: Path,
    username: str,
    password: str | None,
    from_stdin: bool,
    timeout: float,
    no_wait_review: bool,
    stack_name: str,
    as_json: bool,
) -> None:
    """Upload PHOTO through the API as the driver's phone does, and print the bay (or what to do)."""
    from driver_routing.driver_app import DriverAppError, describe_status, sign_in, upload, wait_for_status

    people = find_people(stack_name)
    secret = read_password(password, from_stdin, confirm=False) or click.prompt("password", hide_input=True)
    try:
        token = sign_in(aws_client("cognito-idp"), people.client_id, username, secret)
        ticket = upload(people.api_url, token, photo)
        click.echo(f"uploaded {photo.name} as {ticket['upload_id']}", err=True)
        status = wait_for_status(
            people.api_url,
            token,
            ticket["upload_id"],
            timeout_s=timeout,
            wait_for_review=not no_wait_review,
            on_change=lambda s: click.echo(f"  {s['status']}", err=True),
        )
    except DriverAppError as error:
        raise click.ClickException(str(error)) from None
    click.echo(describe_status(status))
    if as_json:
        emit_json(status)
    if status["status"] == "pending" or (status["status"] == "manual-review" and not no_wait_review):
        raise SystemExit(1)


__all__ = ["add_user", "drive", "find_people", "sign_in_command"]
