"""`driver-routing users list | disable | enable | delete | reset-password | sign-out`: the depot runs its
people with Cognito's admin API (AWS credentials, or the local stack).

Passwords are read from a hidden prompt, or from the first line of standard input with `--password-stdin`;
none is needed on the command line. A sign-out is Cognito's global sign-out: the user's refresh tokens are
revoked, so no new ID token is issued; an ID token already issued stays valid until it expires
(infra/README.md says how long).
"""

from __future__ import annotations

import click

from driver_routing.connection import aws_client
from driver_routing.output import emit_json
from driver_routing.people import find_people, stack_option
from driver_routing.user_pool import read_password, users_of

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
stdin_option = click.option(
    "--password-stdin", "from_stdin", is_flag=True, help="Read the password from standard input's first line."
)


@click.group("users")
def users() -> None:
    """List, disable, enable, delete, reset the password of, or sign out the pool's users."""


@users.command("list")
@stack_option
@json_option
def list_users(stack_name: str, as_json: bool) -> None:
    """Every user: name, driver id (drivers), enabled or disabled, status."""
    people = find_people(stack_name)
    found = users_of(aws_client("cognito-idp"), people.user_pool_id)
    for user in found:
        state = "enabled" if user["enabled"] else "disabled"
        click.echo(f"{user['username']}\t{user['driver_id'] or '-'}\t{state}\t{user['status']}")
    if not found:
        click.echo("no users yet: add one with `driver-routing add-user`")
    if as_json:
        emit_json({"users": found})


def _admin(action: str, call: str, done: str) -> click.Command:
    @click.command(action)
    @click.argument("username")
    @stack_option
    @json_option
    def command(username: str, stack_name: str, as_json: bool) -> None:
        people = find_people(stack_name)
        getattr(aws_client("cognito-idp"), call)(UserPoolId=people.user_pool_id, Username=username)
        click.echo(f"{username}: {done}")
        if as_json:
            emit_json({"username": username, "action": action})

    return command


users.add_command(_admin("disable", "admin_disable_user", "disabled (cannot sign in)"))
users.add_command(_admin("enable", "admin_enable_user", "enabled"))
users.add_command(_admin("delete", "admin_delete_user", "deleted"))
users.add_command(
    _admin(
        "sign-out",
        "admin_user_global_sign_out",
        "signed out everywhere (no new tokens; an ID token already issued lives until it expires)",
    )
)
for name, summary in (
    ("disable", "Disable USERNAME: they cannot sign in until enabled again."),
    ("enable", "Enable USERNAME again."),
    ("delete", "Delete USERNAME (a driver's id is free for a new user afterwards)."),
    ("sign-out", "Sign USERNAME out on every device (Cognito's global sign-out)."),
):
    users.commands[name].help = summary


@users.command("reset-password")
@click.argument("username")
@stdin_option
@stack_option
@json_option
def reset_password(username: str, from_stdin: bool, stack_name: str, as_json: bool) -> None:
    """Give USERNAME a new password (prompted, or --password-stdin), and sign them out everywhere."""
    secret = read_password(None, from_stdin, confirm=True)
    if secret is None:
        raise click.UsageError(
            "give the new password at the prompt, or on standard input with --password-stdin"
        )
    people = find_people(stack_name)
    idp = aws_client("cognito-idp")
    idp.admin_set_user_password(
        UserPoolId=people.user_pool_id, Username=username, Password=secret, Permanent=True
    )
    idp.admin_user_global_sign_out(UserPoolId=people.user_pool_id, Username=username)
    click.echo(f"{username}: new password set; signed out everywhere")
    if as_json:
        emit_json({"username": username, "action": "reset-password"})
