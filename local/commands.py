"""`driver-routing up`: the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import time
from typing import Any

import click

from driver_routing.local_record import StackAlreadyRunning
from driver_routing.stack_outputs import DEFAULT_STACK_NAME
from local.driver_demo import phone_lines
from local.listening import Listening, NoNetworkAddress, listen_address
from local.processes import HOST
from local.stack import LocalStack, PortInUse, StackConfig
from services.router.rules import load_rules

PORT = click.IntRange(1, 65535)
AWS_PORT, API_PORT = 5000, 8000


@click.command()
@click.option(
    "--aws-port", type=PORT, default=AWS_PORT, show_default=True, help="moto server port (the AWS endpoint)."
)
@click.option("--endpoint-port", type=PORT, default=8080, show_default=True, help="Model endpoint port.")
@click.option(
    "--api-port", type=PORT, default=API_PORT, show_default=True, help="Local HTTP API (and board) port."
)
@click.option("--stack-name", default=DEFAULT_STACK_NAME, show_default=True, envvar="DRIVER_ROUTING_STACK")
@click.option(
    "--listen",
    default=HOST,
    show_default=True,
    callback=lambda ctx, param, value: _address(value, param),
    help="Address moto and the API listen on: 0.0.0.0 or a LAN address lets a phone on the network in.",
)
@click.option(
    "--public-host",
    default=None,
    help="Host a phone uses in the pages' URLs (default: the --listen address; for 0.0.0.0, this machine's).",
)
def up(
    aws_port: int, endpoint_port: int, api_port: int, stack_name: str, listen: str, public_host: str | None
) -> None:
    """Run the local stack in the foreground until Ctrl-C."""
    try:
        listening = Listening(listen, public_host).resolved()
    except NoNetworkAddress as error:
        raise click.UsageError(str(error)) from None
    config = StackConfig(
        aws_port=aws_port,
        endpoint_port=endpoint_port,
        api_port=api_port,
        stack_name=stack_name,
        listen=listening,
    )
    stack = LocalStack(config)
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    warning = listening.warning()
    if warning:
        click.echo(warning, err=True)
    click.echo(f"starting moto server and the API on {listen}, model endpoint and pollers on {HOST} ...")
    try:
        resources = stack.start()
    except (StackAlreadyRunning, PortInUse) as error:
        stack.stop()
        raise click.ClickException(str(error)) from None
    except (RuntimeError, TimeoutError) as error:
        stack.stop()
        raise click.ClickException(
            f"the local stack did not start: {error} (logs: {stack.log_dir}/)"
        ) from None
    try:
        click.echo(f"AWS (moto server):  {stack.aws_url}")
        click.echo(
            f"model endpoint:     {stack.endpoint_url} (SageMaker runtime API, endpoint "
            f"{stack.config.endpoint_name!r})"
        )
        click.echo(f"photo bucket:       s3://{resources.bucket}/photos/{{driver_id}}/")
        click.echo(f"routing topic:      {resources.topic_arn}")
        click.echo(f"capture table:      {resources.capture_table}")
        click.echo(f"API (HTTP API):     {stack.public_api_url}")
        click.echo(f"dispatch board:     {stack.public_api_url}/")
        for line in phone_lines(stack.public_api_url, stack.public_aws_url, exposed=listening.exposed):
            click.echo(line)
        if stack.identity is not None:
            click.echo(
                f"user pool:          {stack.identity.user_pool_id} (client {stack.identity.client_id})"
            )
        click.echo(f"logs:               {stack.log_dir}/")
        rules = load_rules()
        for depot_id, depot in rules.depots.items():
            bays = ", ".join(f"{name} {bay.bay} ({bay.radius_km:g} km)" for name, bay in depot.bays.items())
            default = " (default)" if depot_id == rules.default_depot else ""
            click.echo(f"depot {depot_id}{default}: {depot.name}; {bays}")
        click.echo("\nFrom another terminal:")
        for name, value in stack.client_environment().items():
            click.echo(f"  export {name}={value}")
        second = list(rules.depots)[-1]
        click.echo("  driver-routing upload PHOTO --driver-id d-001 | watch | query --driver-id d-001")
        click.echo("  driver-routing add-user dana --driver-id d-001; driver-routing drive PHOTO --user dana")
        click.echo("  driver-routing add-user pat --dispatcher   (then sign in on the board)")
        click.echo(
            f"  driver-routing add-user sam --dispatcher --depot {second}   (sees only {second}'s photos)"
        )
        click.echo(f"  aws s3 ls s3://{resources.bucket} --recursive")
        click.echo("\nCtrl-C stops the stack.")
        while not stopping:
            for name in stack.supervise():
                click.echo(f"poller {name} died; restarted it", err=True)
            time.sleep(0.5)
        click.echo("stopping ...")
    finally:
        stack.stop()
    click.echo("stopped.")


def _address(value: str, param: click.Parameter) -> str:
    try:
        return listen_address(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param=param) from None
