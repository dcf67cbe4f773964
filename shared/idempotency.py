"""Effectively-once per photo: Powertools Idempotency keyed on the photo's identity, not the message id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

# The photo's identity inside a contract that carries `photo`, and inside a bare PhotoRef.
IN_CONTRACT = "photo.[bucket, key, etag, version_id]"
IN_PHOTO = "[bucket, key, etag, version_id]"


class PhotoIdempotency:
    """One DynamoDB persistence store; one config per guarded function, each told the Lambda context
    so that an INPROGRESS record expires with the function's timeout, not an hour later."""

    def __init__(self, settings: Settings, dynamodb: Any) -> None:
        self._settings = settings
        self._store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb)
        self._configs: list[IdempotencyConfig] = []

    def once_per_photo(
        self, function: F, *, argument: str, key_prefix: str, identity: str = IN_CONTRACT
    ) -> F:
        config = IdempotencyConfig(
            event_key_jmespath=identity,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self._settings.idempotency_ttl_s,
        )
        self._configs.append(config)
        wrapped: F = idempotent_function(
            data_keyword_argument=argument,
            persistence_store=self._store,
            config=config,
            key_prefix=key_prefix,
        )(function)
        return wrapped

    def register_lambda_context(self, context: LambdaContext) -> None:
        for config in self._configs:
            config.register_lambda_context(context)
