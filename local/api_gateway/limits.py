"""What API Gateway's HTTP API refuses before any function runs: bodies over 10 MB, and requests over
the stage's or a route's throttle.

Throttling is a token bucket per route: `ThrottlingBurstLimit` requests at once, refilled at
`ThrottlingRateLimit` a second, shared by every caller of the route (API Gateway has no per-user
throttle). A route in the stage's `RouteSettings` has its own bucket; every other route draws on its own
bucket sized by `DefaultRouteSettings`. Both are read from the `HttpApi` resource of `infra/template.yaml`,
its `!Ref`s resolved against the template's parameter defaults and the stack's parameters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.cfn import Resolver, parameter_defaults
from infra.template_file import load_template

# API Gateway's HTTP API payload limit (a larger request is 413 before the authorizer runs).
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
HTTP_API = "HttpApi"


@dataclass(frozen=True)
class Throttle:
    rate_per_s: float
    burst: int


@dataclass
class TokenBucket:
    throttle: Throttle
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = float(self.throttle.burst)
        self._at = self.clock()

    def take(self) -> bool:
        """One request's token, or False: the request is throttled (429)."""
        with self._lock:
            now = self.clock()
            refill = (now - self._at) * self.throttle.rate_per_s
            self._tokens = min(float(self.throttle.burst), self._tokens + refill)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class Throttles:
    """One bucket per route key ("POST /uploads"), sized by its route settings or the stage's default."""

    def __init__(
        self,
        default: Throttle | None,
        routes: Mapping[str, Throttle],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._default = default
        self._routes = dict(routes)
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, route_key: str) -> bool:
        throttle = self._routes.get(route_key, self._default)
        if throttle is None:
            return True
        with self._lock:
            bucket = self._buckets.get(route_key)
            if bucket is None:
                bucket = self._buckets[route_key] = TokenBucket(throttle, self._clock)
        return bucket.take()

    def settings(self, route_key: str) -> Throttle | None:
        return self._routes.get(route_key, self._default)


def _throttle(settings: Mapping[str, Any] | None) -> Throttle | None:
    if not settings or "ThrottlingRateLimit" not in settings:
        return None
    return Throttle(
        rate_per_s=float(settings["ThrottlingRateLimit"]),
        burst=int(settings.get("ThrottlingBurstLimit", 0)),
    )


def throttles_from_template(
    parameters: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic
) -> Throttles:
    template = load_template()
    values = {**parameter_defaults(template), **(parameters or {})}

    def no_attribute(logical_id: str, attribute: str) -> str:
        raise ValueError(f"{HTTP_API}'s throttling cannot use Fn::GetAtt {logical_id}.{attribute}")

    resolver = Resolver(values=values, attribute=no_attribute)
    props = template["Resources"][HTTP_API]["Properties"]
    default = _throttle(resolver.resolve(props.get("DefaultRouteSettings")))
    routes = {
        str(key): throttle
        for key, settings in (resolver.resolve(props.get("RouteSettings")) or {}).items()
        if (throttle := _throttle(settings)) is not None
    }
    return Throttles(default, routes, clock)
