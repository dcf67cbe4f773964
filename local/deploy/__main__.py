"""`python -m local.deploy deploy|describe`: deploy the local stack into a running moto server, or read
a deployed stack back, and print its environment as JSON (a debugging aid; `local.stack` deploys it)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence

from driver_routing.stack_outputs import DEFAULT_REGION, DEFAULT_STACK_NAME, StackError, describe_stack
from infra.template_file import TemplateError
from local.deploy import deploy_stack


def _parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--parameter wants KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.deploy", description="Deploy or describe the local stack."
    )
    parser.add_argument("command", choices=["deploy", "describe"])
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        if args.command == "deploy":
            resources = deploy_stack(
                args.endpoint_url,
                stack_name=args.stack_name,
                region=args.region,
                parameters=_parse_parameters(args.parameter),
            )
        else:
            resources = describe_stack(args.stack_name, region=args.region, endpoint_url=args.endpoint_url)
    except (StackError, TemplateError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "stack_name": resources.stack_name,
                "seconds": round(time.perf_counter() - started, 3),
                "environment": resources.environment(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
