"""The local stack: moto in server mode, the model endpoint and the functions' pollers, on 127.0.0.1
(moto and the API on a LAN address when asked: `local.listening`).

Resources come from `infra/template.yaml` (deployed into moto's CloudFormation by `local.deploy`), so the
local stack and AWS cannot drift. Every function's execution environments run in one poller process
(`local.poller`), each on its own copy of its handler's modules; if that process dies it is restarted,
as Lambda would start fresh execution environments.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from driver_routing.local_record import StackLock, default_state_dir, record_path, write_record
from driver_routing.stack_outputs import StackResources
from local.deploy import deploy_stack, needs_managed_policies
from local.functions import FUNCTIONS
from local.identity import LocalIdentity, deploy_identity
from local.listening import Listening
from local.moto_trace import TRACE_ENV
from local.processes import HOST, die_with_parent, port_is_free, stop_processes, wait_for_http


class PortInUse(RuntimeError):
    """A port the stack needs is taken."""


LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The functions' requests carry this app id in their User-Agent: the moto server counts them apart.
CHAIN_APP_ID = "driver-routing-chain"
POLLERS = "functions"
# glibc gives threads that allocate malloc arenas of their own (up to 8 per core), and memory freed in
# one is seldom handed back: the stack's threaded servers (moto's 64 request threads) grow on it.
CHILD_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2"}


@dataclass
class StackConfig:
    aws_port: int = 5000
    endpoint_port: int = 8080
    # The local HTTP API (local.api_gateway) in front of the API function; it serves the board too.
    api_port: int = 8000
    stack_name: str = "driver-routing"
    region: str = "us-east-1"
    # The record and lock that let commands find the stack from any folder, and its logs.
    state_dir: Path = field(default_factory=default_state_dir)
    endpoint_name: str = "vehicle-classifier"
    # Execution environments per function (all in one poller process); each runs one invocation at a time.
    concurrency: Mapping[str, int] = field(
        default_factory=lambda: {"ingest": 2, "classifier": 3, "router": 1, "capture": 1}
    )
    # Template parameters, e.g. short timeouts for tests: {"FunctionTimeout": "5", ...}.
    parameters: Mapping[str, str] = field(default_factory=dict)
    # Extra settings for the functions (environment variables of shared.settings.Settings).
    function_settings: Mapping[str, str] = field(default_factory=dict)
    endpoint_args: tuple[str, ...] = ()
    # An AWS endpoint already running (a moto server started elsewhere): do not start one.
    external_aws_url: str | None = None
    # Where moto writes every message it sends, receives, deletes and publishes (`local.moto_trace`).
    moto_trace: Path | None = None
    # Where moto and the API listen, and the host the pages' URLs name (127.0.0.1 unless told).
    listen: Listening = field(default_factory=Listening)


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.resources: StackResources | None = None
        self._moto: subprocess.Popen[bytes] | None = None
        self._endpoint: subprocess.Popen[bytes] | None = None
        self._api: subprocess.Popen[bytes] | None = None
        self.identity: LocalIdentity | None = None
        # One entry per execution environment: "classifier", "classifier-2", ...
        self.environments: dict[str, str] = {
            (name if index == 1 else f"{name}-{index}"): name
            for name in FUNCTIONS
            for index in range(1, max(1, self.config.concurrency.get(name, 1)) + 1)
        }
        # One process (POLLERS) for every environment.
        self.pollers: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = {POLLERS: 0}
        self._logs: list[IO[bytes]] = []
        self._supervising = threading.Lock()
        self._lock = StackLock(self.config.state_dir)

    @property
    def aws_url(self) -> str:
        return (
            self.config.external_aws_url or f"http://{self.config.listen.local_host}:{self.config.aws_port}"
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.config.endpoint_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.config.listen.local_host}:{self.config.api_port}"

    @property
    def public_api_url(self) -> str:
        """The API (and the pages) as a browser on the network reaches it."""
        return f"http://{self.config.listen.public}:{self.config.api_port}"

    @property
    def public_aws_url(self) -> str:
        """moto as a browser reaches it: where the presigned photo forms post and Cognito signs in."""
        return self.config.external_aws_url or f"http://{self.config.listen.public}:{self.config.aws_port}"

    def browser_environment(self) -> dict[str, str]:
        """What the API function needs to hand a browser URLs it can reach: its presigned S3 links and
        the pages' Cognito endpoint on the public host (its other clients stay on the local one)."""
        if self.public_aws_url == self.aws_url:
            return {}
        return {"AWS_ENDPOINT_URL_S3": self.public_aws_url, "COGNITO_ENDPOINT": f"{self.public_aws_url}/"}

    @property
    def log_dir(self) -> Path:
        return self.config.state_dir / "logs"

    def client_environment(self) -> dict[str, str]:
        """What a boto3 program or the plain aws CLI needs to reach this stack."""
        return {
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.endpoint_url,
            "AWS_REGION": self.config.region,
            "AWS_DEFAULT_REGION": self.config.region,
            **LOCAL_CREDENTIALS,
            **self._people_environment(),
        }

    def function_environment(self) -> dict[str, str]:
        assert self.resources is not None
        return {
            **self.client_environment(),
            **self.resources.environment(),
            "SAGEMAKER_ENDPOINT_NAME": self.config.endpoint_name,
            "FUNCTION_TIMEOUT_S": self.config.parameters.get("FunctionTimeout", "30"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "DriverRouting",
            **self.config.function_settings,
        }

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StackResources:
        # Before anything else: a second stack on the same state folder must not touch the first.
        self._lock.acquire()
        ports = [self.config.endpoint_port, self.config.api_port]
        if self.config.external_aws_url is None:
            ports.append(self.config.aws_port)
        for port in ports:
            host = HOST if port == self.config.endpoint_port else self.config.listen.address
            if not port_is_free(port, host):
                raise PortInUse(
                    f"port {port} on {host} is in use by another program; pick free ones with "
                    "--aws-port, --endpoint-port and --api-port"
                )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        os.environ.update({k: v for k, v in LOCAL_CREDENTIALS.items() if k not in os.environ})
        if self.config.external_aws_url is None:
            self._moto = self._spawn(
                "moto",
                # moto's app with the local stack's guards, under waitress (see motoserver.py)
                [
                    sys.executable,
                    "-m",
                    "local.motoserver",
                    "-H",
                    self.config.listen.address,
                    "-p",
                    str(self.config.aws_port),
                ],
                {
                    "MOTO_IAM_LOAD_MANAGED_POLICIES": str(self._managed_policies()).lower(),
                    **({TRACE_ENV: str(self.config.moto_trace)} if self.config.moto_trace else {}),
                },
            )
        self._endpoint = self._spawn(
            "endpoint",
            [
                sys.executable,
                "-m",
                "local.sagemaker_runtime",
                "--host",
                HOST,
                "--port",
                str(self.config.endpoint_port),
                *self.config.endpoint_args,
            ],
            {},
        )
        wait_for_http(f"{self.aws_url}/moto-api/", 60, self._moto)
        self.resources = deploy_stack(
            self.aws_url,
            stack_name=self.config.stack_name,
            region=self.config.region,
            parameters={"EndpointName": self.config.endpoint_name, **self.config.parameters},
        )
        self.identity = deploy_identity(
            self.aws_url, stack_name=self.config.stack_name, region=self.config.region
        )
        wait_for_http(f"{self.endpoint_url}/ping", 120, self._endpoint, need_ok=True)
        self.start_pollers()
        self.start_api()
        self._write_state()
        return self.resources

    @property
    def crash_requests(self) -> Path:
        return self.config.state_dir / "crash-requests"

    @property
    def call_counts(self) -> Path:
        """The functions' API calls by service and operation (JSON), as their process counts them."""
        return self.config.state_dir / "calls.json"

    def start_pollers(self) -> None:
        assert self.resources is not None
        command = [
            sys.executable,
            "-m",
            "local.poller",
            "--crash-requests",
            str(self.crash_requests),
            "--call-counts",
            str(self.call_counts),
            "--batching-window",
            self.config.parameters.get("BatchingWindow", "0"),
        ]
        for environment, name in self.environments.items():
            queue = self.resources.queues[FUNCTIONS[name].source_queue]
            command += ["--environment", environment, name, queue.url, queue.arn]
        self.pollers[POLLERS] = self._spawn(
            POLLERS, command, {**self.function_environment(), "AWS_SDK_UA_APP_ID": CHAIN_APP_ID}
        )

    def start_api(self) -> None:
        """The local API gateway: the template's routes and JWT authorizer before the API handler."""
        assert self.identity is not None
        self._api = self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "local.api_gateway",
                "--host",
                self.config.listen.address,
                "--port",
                str(self.config.api_port),
                "--jwks-url",
                self.identity.jwks_url,
                "--issuer",
                self.identity.issuer,
                "--audience",
                self.identity.client_id,
                "--crash-before-publish",
                str(self.api_crash_request),
                *(f"--parameter={name}={value}" for name, value in self.config.parameters.items()),
            ],
            {**self.function_environment(), **self.browser_environment(), "POWERTOOLS_SERVICE_NAME": "api"},
        )
        wait_for_http(f"{self.api_url}/config.json", 60, self._api, need_ok=True)

    @property
    def api_crash_request(self) -> Path:
        return self.config.state_dir / "crash-api-before-publish"

    def crash_api_before_next_publish(self) -> None:
        """Make the API's process die at its next publish, after the write before it (a review's)."""
        self.api_crash_request.touch()

    def restart_api(self) -> None:
        """Start the API again after it died (its schedule with it)."""
        if self._api is not None and self._api.poll() is None:
            return
        self.start_api()

    def _people_environment(self) -> dict[str, str]:
        """What the CLI's people commands need: the API's URL and the user pool."""
        if self.identity is None:
            return {}
        return {"DRIVER_ROUTING_API_URL": self.api_url, **self.identity.environment()}

    def crash_environment(self, environment: str) -> None:
        """Make that environment die after its next handler returns, before the delete (see
        `SqsEventSource.crash_next`)."""
        if environment not in self.environments:
            raise KeyError(f"no execution environment {environment!r}; there are {sorted(self.environments)}")
        with self.crash_requests.open("a") as requests:
            requests.write(environment + "\n")
        self.pollers[POLLERS].send_signal(signal.SIGUSR1)

    def supervise(self) -> list[str]:
        """Restart pollers that died; return their names. Raise if moto or the endpoint died.

        Call it from the thread that started the stack: children die with the thread that spawned them.
        """
        for name, process in (("moto", self._moto), ("endpoint", self._endpoint), ("api", self._api)):
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir}/{name}.log")
        restarted = []
        with self._supervising:  # one restart per death, whichever thread notices it
            for name, process in list(self.pollers.items()):
                if process.poll() is not None:
                    self.restarts[name] += 1
                    self.start_pollers()
                    restarted.append(name)
        return restarted

    def stop(self) -> None:
        stop_processes(self._api, *self.pollers.values(), self._endpoint, self._moto)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._lock.held:  # only the stack that wrote the record removes it
            record_path(self.config.state_dir).unlink(missing_ok=True)
            self._lock.release()

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- helpers ---------------------------------------------------------------------------------

    def process_ids(self) -> dict[str, int]:
        named = {"moto": self._moto, "endpoint": self._endpoint, "api": self._api, **self.pollers}
        return {name: p.pid for name, p in named.items() if p is not None and p.poll() is None}

    def _spawn(self, name: str, command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **CHILD_ENVIRONMENT, **env},
            start_new_session=True,  # Ctrl-C reaches the stack, which stops its children in order
            preexec_fn=die_with_parent,
        )

    def _managed_policies(self) -> bool:
        parameters = {"EndpointName": self.config.endpoint_name, **self.config.parameters}
        return needs_managed_policies(self.config.region, parameters)

    def _write_state(self) -> None:
        write_record(self.config.state_dir, self.config.stack_name, self.client_environment())
