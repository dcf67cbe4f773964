"""Who is calling, from the claims API Gateway's JWT authorizer verified, never from the request body.

API Gateway (HTTP API, payload 2.0) hands every claim over as a string at
`requestContext.authorizer.jwt.claims`; an array claim such as `cognito:groups` arrives as
`"[drivers dispatchers]"` (bracketed, space-separated). Direct JSON arrays are read too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.api.errors import NotAllowed, NotSignedIn
from shared.photo_keys import DRIVER_ID

DRIVER_ID_CLAIM = "custom:driver_id"
DEPOT_ID_CLAIM = "custom:depot_id"
GROUPS_CLAIM = "cognito:groups"


class Group(StrEnum):
    DRIVERS = "drivers"
    DISPATCHERS = "dispatchers"


@dataclass(frozen=True)
class Caller:
    username: str
    groups: frozenset[str]
    driver_id: str | None
    # None: the rules' default depot (a user created before depots were)
    depot_id: str | None = None

    def require(self, group: Group) -> None:
        if group.value not in self.groups:
            raise NotAllowed(f"only {group.value} may do this")

    def require_driver(self) -> str:
        self.require(Group.DRIVERS)
        if self.driver_id is None:
            raise NotAllowed(f"this user has no valid {DRIVER_ID_CLAIM}")
        return self.driver_id


def claim_list(value: Any) -> list[str]:
    """A list claim in any of the shapes it reaches a function in."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return text[1:-1].split()
        return [str(v) for v in parsed] if isinstance(parsed, list) else []
    return text.split()


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    if not claims:
        # Behind the JWT authorizer this cannot happen; without one, nobody is let in.
        raise NotSignedIn("Unauthorized")
    username = str(claims.get("cognito:username") or claims.get("username") or claims.get("sub") or "")
    if not username:
        raise NotSignedIn("Unauthorized")
    driver_id = claims.get(DRIVER_ID_CLAIM)
    valid = isinstance(driver_id, str) and DRIVER_ID.fullmatch(driver_id) is not None
    depot_id = claims.get(DEPOT_ID_CLAIM)
    return Caller(
        username=username,
        groups=frozenset(claim_list(claims.get(GROUPS_CLAIM))),
        driver_id=driver_id if valid else None,
        depot_id=str(depot_id) if depot_id else None,
    )
