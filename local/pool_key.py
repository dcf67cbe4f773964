"""The local user pools sign with a key of their own, made when the moto server starts.

moto's Cognito signs every pool's tokens with one RSA key that ships inside the moto package
(`moto/cognitoidp/resources/jwks-private.json.gz`) and serves its public half as every pool's key set:
anyone with moto installed could mint a token for any user, group or driver id that the local API gateway
would accept. `sign_with_fresh_key` gives moto's pools a new 2048-bit key per server process, kept in its
memory only, and serves that key's public half at `/{pool}/.well-known/jwks.json` (same `kid`, which moto
writes into every token). A token signed with the shipped key no longer verifies: 401 at the gateway.
`SHIPPED_PUBLIC_KEY_N` lets the stack check that the key set it was served is not the shipped one.
"""

from __future__ import annotations

import json
from typing import Any

# moto writes this `kid` into every token's header.
MOTO_KID = "dummy"


def shipped_public_modulus() -> str:
    """The modulus of the key that ships with moto (what a pool must not verify with)."""
    from moto.utilities.utils import load_resource

    keys: dict[str, Any] = load_resource("cognitoidp/resources/jwks-public.json")
    return str(keys["keys"][0]["n"])


def sign_with_fresh_key() -> None:
    from joserfc import jwk
    from moto.cognitoidp import models, responses

    key = jwk.RSAKey.generate_key(2048, private=True)
    public = {**key.as_dict(private=False), "kid": MOTO_KID, "alg": "RS256", "use": "sig"}
    pool_init = models.CognitoIdpUserPool.__init__

    def with_fresh_key(self: Any, *args: Any, **kwargs: Any) -> None:
        pool_init(self, *args, **kwargs)
        self.json_web_key = key

    models.CognitoIdpUserPool.__init__ = with_fresh_key  # type: ignore[method-assign]
    responses.CognitoIdpJsonWebKeyResponse.json_web_key = json.dumps({"keys": [public]}).encode()
