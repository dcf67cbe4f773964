"""What an HTTP API JWT authorizer checks, with PyJWT (a well-kept JWT library; no crypto here).

API Gateway takes the token from the identity source (the Authorization header, with or without
`Bearer `), fetches the issuer's key set, and checks the signature (RS256, key by `kid`), `exp`,
`nbf` and `iat`, `iss` against the configured issuer, and `aud` (ID tokens) or `client_id` (access
tokens) against the configured audience. Anything else is 401 `{"message":"Unauthorized"}`.
"""

from __future__ import annotations

from typing import Any

import jwt


class Unauthorized(Exception):
    """The request carries no token API Gateway would accept."""


class JwtAuthorizer:
    def __init__(self, *, issuer: str, audience: str, jwks_url: str) -> None:
        self.issuer = issuer
        self.audience = audience
        # The key set is fetched once and on an unknown `kid` (key rotation), as API Gateway caches it.
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def claims(self, authorization: str | None) -> dict[str, Any]:
        if not authorization:
            raise Unauthorized("no token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:  # PyJWKClientError is one too
            raise Unauthorized(str(error)) from error
        if self.audience not in (claims.get("aud"), claims.get("client_id")):
            raise Unauthorized("token is for another audience")
        return claims
