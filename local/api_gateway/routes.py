"""The HTTP API's routes, read from the API function's `HttpApi` events in the template."""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.template_file import load_template

FUNCTION = "ApiFunction"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway's template: /uploads/{upload_id}
    authorized: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}/]+\})", self.path)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{regex}$")


def routes_from_template(function: str = FUNCTION) -> list[Route]:
    events = load_template()["Resources"][function]["Properties"].get("Events", {})
    found = []
    for event in events.values():
        if event.get("Type") != "HttpApi":
            continue
        props = event["Properties"]
        authorizer = props.get("Auth", {}).get("Authorizer")
        found.append(Route(props["Method"].upper(), props["Path"], authorized=authorizer != "NONE"))
    return found


def match(routes: list[Route], method: str, path: str) -> tuple[Route | None, bool]:
    """The route for the request, and whether any route has that path (for CORS preflights)."""
    on_path = [r for r in routes if r.pattern.match(path)]
    exact = next((r for r in on_path if r.method == method.upper()), None)
    return exact, bool(on_path)
