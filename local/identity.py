"""The user pool of `infra/template.yaml`, created in moto's Cognito with boto3 and verified.

moto's CloudFormation is not trusted with `AWS::Cognito::*` (the local template leaves them out,
`infra.cfn.LOCAL_IDENTITY_TYPES`); this module reads their properties from the same template, so the
local pool has the template's groups, attribute, password policy and client auth flows.
moto (server mode) issues RS256 tokens whose issuer is AWS's own,
`https://cognito-idp.{region}.amazonaws.com/{pool_id}`, and serves the key set at
`{moto_url}/{pool_id}/.well-known/jwks.json`: the local API front verifies tokens against those. The
moto server signs with a key it made when it started (`local.pool_key`), never the one that ships in moto:
`_verify` reads the key set back and refuses the shipped key.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from infra.cfn import LOCAL_IDENTITY_TYPES, Resolver, resources_of_type
from infra.template_file import load_template
from local.pool_key import shipped_public_modulus

# Where the template's property names differ from the Cognito API's.
_POOL_RENAMES = {"UserPoolName": "PoolName"}
_CLIENT_KEYS = (
    "ClientName",
    "GenerateSecret",
    "ExplicitAuthFlows",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
)


class IdentityVerificationError(RuntimeError):
    """The local user pool differs from the template's."""


@dataclass(frozen=True)
class LocalIdentity:
    aws_url: str
    region: str
    user_pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.aws_url}/{self.user_pool_id}/.well-known/jwks.json"

    def environment(self) -> dict[str, str]:
        """The API's settings (services.api.settings) for this pool; the board signs in at moto."""
        return {
            "USER_POOL_ID": self.user_pool_id,
            "USER_POOL_CLIENT_ID": self.client_id,
            "COGNITO_ENDPOINT": f"{self.aws_url}/",
        }


def _identity_resources() -> dict[str, dict[str, Any]]:
    template = load_template()
    found: dict[str, dict[str, Any]] = {}
    for kind in LOCAL_IDENTITY_TYPES:
        found.update(resources_of_type(template, kind))
    return found


def deploy_identity(aws_url: str, *, stack_name: str, region: str) -> LocalIdentity:
    """Create (or find) the template's pool, client and groups in moto; verify them; idempotent."""
    resources = _identity_resources()
    # Ref UserPool is added once the pool exists.
    values = {"AWS::StackName": stack_name, "AWS::Region": region, "AWS::Partition": "aws"}
    idp = boto3.session.Session().client(
        "cognito-idp", region_name=region, endpoint_url=aws_url, config=Config(retries={"mode": "standard"})
    )

    def of_type(kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, r.get("Properties", {})) for name, r in resources.items() if r["Type"] == kind]

    def resolved(props: dict[str, Any], known: dict[str, str]) -> dict[str, Any]:
        def no_attribute(logical_id: str, attribute: str) -> str:
            raise IdentityVerificationError(f"Fn::GetAtt {logical_id}.{attribute} is not known locally")

        result: dict[str, Any] = Resolver(values={**values, **known}, attribute=no_attribute).resolve(props)
        return result

    ((pool_name, pool_props),) = of_type("AWS::Cognito::UserPool")
    wanted_pool = {_POOL_RENAMES.get(k, k): v for k, v in resolved(pool_props, {}).items()}
    pool_id = (
        _find_pool(idp, wanted_pool["PoolName"]) or idp.create_user_pool(**wanted_pool)["UserPool"]["Id"]
    )
    known = {pool_name: pool_id}

    ((_, client_props),) = of_type("AWS::Cognito::UserPoolClient")
    wanted_client = resolved(client_props, known)
    client_id = (
        _find_client(idp, pool_id, wanted_client["ClientName"])
        or idp.create_user_pool_client(
            UserPoolId=pool_id, **{k: v for k, v in wanted_client.items() if k in _CLIENT_KEYS}
        )["UserPoolClient"]["ClientId"]
    )

    groups = [resolved(props, known) for _, props in of_type("AWS::Cognito::UserPoolGroup")]
    have = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
    for group in groups:
        if group["GroupName"] not in have:
            idp.create_group(
                UserPoolId=pool_id, GroupName=group["GroupName"], Description=group.get("Description", "")
            )
    identity = LocalIdentity(aws_url=aws_url, region=region, user_pool_id=pool_id, client_id=client_id)
    group_names = {g["GroupName"] for g in groups}
    _verify(idp, pool_id, client_id, wanted_pool, wanted_client, group_names, identity.jwks_url)
    return identity


def _find_pool(idp: Any, name: str) -> str | None:
    for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return str(pool["Id"])
    return None


def _find_client(idp: Any, pool_id: str, name: str) -> str | None:
    for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                return str(client["ClientId"])
    return None


def _verify(
    idp: Any,
    pool_id: str,
    client_id: str,
    pool: dict[str, Any],
    client: dict[str, Any],
    groups: set[str],
    jwks_url: str,
) -> None:
    """What the API's security rests on, read back from moto (a created resource proves nothing)."""
    problems = []
    described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    attributes = {a["Name"] for a in described.get("SchemaAttributes", [])}
    for custom in pool.get("Schema", []):
        if f"custom:{custom['Name']}" not in attributes:
            problems.append(f"user pool lacks custom:{custom['Name']}")
    admin_only = described.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly")
    if admin_only != pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"]:
        problems.append(f"AllowAdminCreateUserOnly is {admin_only}")
    app = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    if sorted(app.get("ExplicitAuthFlows", [])) != sorted(client["ExplicitAuthFlows"]):
        problems.append(f"client auth flows are {app.get('ExplicitAuthFlows')}")
    if sorted(app.get("WriteAttributes", [])) != sorted(client["WriteAttributes"]):
        problems.append(f"client may write {app.get('WriteAttributes')}")
    if "ClientSecret" in app:
        problems.append("client has a secret")
    have = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
    if have != groups:
        problems.append(f"groups are {sorted(have)}, not {sorted(groups)}")
    with urllib.request.urlopen(jwks_url, timeout=10) as answer:
        served = {str(k.get("n")) for k in json.load(answer).get("keys", [])}
    if shipped_public_modulus() in served:
        problems.append("the pool signs with the key that ships inside moto (local.pool_key)")
    if problems:
        raise IdentityVerificationError(
            "local user pool differs from infra/template.yaml: " + "; ".join(problems)
        )
