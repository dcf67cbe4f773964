"""Effectively-once per photo: Powertools Idempotency keyed on the photo's identity, not the message id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.settings import Settings

T = TypeVar("T")
Outcome = dict[str, Any]

# The photo's identity inside a contract that carries `photo`, and inside a bare PhotoRef.
IN_CONTRACT = "photo.[bucket, key, etag, version_id]"
IN_PHOTO = "[bucket, key, etag, version_id]"


class PhotoIdempotency:
    """One persistence store; one config per guarded function, each told the Lambda context so that an
    INPROGRESS record expires with the function's timeout, not an hour later."""

    def __init__(self, settings: Settings, persistence: BasePersistenceLayer) -> None:
        self._settings = settings
        self._store = persistence
        self._configs: list[IdempotencyConfig] = []

    @classmethod
    def on_dynamodb(cls, settings: Settings, dynamodb: Any) -> PhotoIdempotency:
        return cls(
            settings, DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb)
        )

    def once_per_photo(
        self,
        function: Callable[[T], Outcome],
        *,
        argument: str,
        key_prefix: str,
        identity: str = IN_CONTRACT,
    ) -> OncePerPhoto[T]:
        """`function` guarded so that a photo seen again gets the first outcome without a second run.
        `argument` is the parameter's name: Powertools reads the photo's identity from that keyword."""
        config = IdempotencyConfig(
            event_key_jmespath=identity,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self._settings.idempotency_ttl_s,
        )
        self._configs.append(config)
        guarded: Callable[..., Outcome] = idempotent_function(
            data_keyword_argument=argument,
            persistence_store=self._store,
            config=config,
            key_prefix=key_prefix,
        )(function)

        def run(item: T) -> Outcome:
            return guarded(**{argument: item})

        return OncePerPhoto(run=run, idempotency=self)

    def register_lambda_context(self, context: LambdaContext) -> None:
        for config in self._configs:
            config.register_lambda_context(context)


@dataclass(frozen=True)
class OncePerPhoto(Generic[T]):
    """A service's use case behind the idempotency guard: what a handler runs for each item."""

    run: Callable[[T], Outcome]
    idempotency: PhotoIdempotency

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Call at the start of every invocation, before the first `run`."""
        self.idempotency.register_lambda_context(context)
