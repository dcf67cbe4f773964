"""The capture table: one item per photo, and the two reads users make of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared.contracts import CaptureRecord, Route

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

BY_DRIVER = "by-driver"
BY_DAY = "by-day"
BY_DEPOT_DAY = "by-depot-day"
# Attributes the table keeps for its indexes and expiry, not part of the record.
_INDEX_ONLY = ("decision_day", "depot_day", "expires_at")


def to_item(record: CaptureRecord, *, retention_days: int | None = None) -> dict[str, Any]:
    plain = json.loads(record.model_dump_json(exclude_none=True), parse_float=Decimal)
    plain["decision_day"] = record.decision_day
    plain["depot_day"] = record.depot_day
    if retention_days:
        plain["expires_at"] = int((record.captured_at + timedelta(days=retention_days)).timestamp())
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def from_item(item: dict[str, Any]) -> CaptureRecord:
    plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
    for name in _INDEX_ONLY:
        plain.pop(name, None)
    for name, value in plain.items():
        if isinstance(value, Decimal):
            plain[name] = float(value)
    return CaptureRecord.model_validate(plain)


class CaptureTable:
    def __init__(self, dynamodb: Any, name: str, *, retention_days: int | None = 365) -> None:
        self._dynamodb = dynamodb
        self.name = name
        self._retention_days = retention_days

    def put_once(self, record: CaptureRecord) -> bool:
        """Write the record unless this photo already has one; False when it had."""
        try:
            self._dynamodb.put_item(
                TableName=self.name,
                Item=to_item(record, retention_days=self._retention_days),
                ConditionExpression="attribute_not_exists(photo_id)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def has_record(self, photo_id: str) -> bool:
        item = self._dynamodb.get_item(
            TableName=self.name,
            Key={"photo_id": {"S": photo_id}},
            ProjectionExpression="photo_id",
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def get(self, photo_id: str) -> CaptureRecord | None:
        item = self._dynamodb.get_item(TableName=self.name, Key={"photo_id": {"S": photo_id}}).get("Item")
        return from_item(item) if item else None

    def for_driver(
        self, driver_id: str, *, limit: int | None = None, since: datetime | None = None
    ) -> list[CaptureRecord]:
        """All decisions for one driver (decided at `since` or later, when given), newest first. The
        bound is the index's sort key, so the query reads only those items."""
        condition, values = "driver_id = :d", {":d": {"S": driver_id}}
        if since is not None:
            condition += " AND decided_at >= :since"
            values[":since"] = {"S": since.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        return list(
            self._query(
                IndexName=BY_DRIVER,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                limit=limit,
            )
        )

    def in_window(
        self, since: datetime, until: datetime, *, depot_id: str | None = None
    ) -> list[CaptureRecord]:
        """All decisions with since <= decided_at < until (at one depot, when given), oldest first,
        one query per UTC day."""
        since, until = since.astimezone(UTC), until.astimezone(UTC)
        index, partition = (BY_DAY, "decision_day") if depot_id is None else (BY_DEPOT_DAY, "depot_day")
        records: list[CaptureRecord] = []
        day = since.date()
        while day <= until.date():
            value = day.isoformat() if depot_id is None else f"{depot_id}#{day.isoformat()}"
            records.extend(
                self._query(
                    IndexName=index,
                    KeyConditionExpression=f"{partition} = :day AND decided_at BETWEEN :a AND :b",
                    ExpressionAttributeValues={
                        ":day": {"S": value},
                        ":a": {"S": since.isoformat().replace("+00:00", "Z")},
                        ":b": {"S": until.isoformat().replace("+00:00", "Z")},
                    },
                    limit=None,
                )
            )
            day += timedelta(days=1)
        return [r for r in records if since <= r.decided_at < until]

    def find_by_key_prefix(self, driver_id: str, key_prefix: str) -> CaptureRecord | None:
        """The driver's newest record whose photo key starts with `key_prefix` (newest pages first)."""
        found = self._query(
            IndexName=BY_DRIVER,
            KeyConditionExpression="driver_id = :d",
            FilterExpression="begins_with(photo_key, :p)",
            ExpressionAttributeValues={":d": {"S": driver_id}, ":p": {"S": key_prefix}},
            ScanIndexForward=False,
            limit=1,
        )
        return next(iter(found), None)

    def put_review(self, reviewed: CaptureRecord) -> bool:
        """Replace a manual-review record by its reviewed version, once: False when it was already
        reviewed or is not waiting for a review (the condition makes two dispatchers race safely)."""
        try:
            self._dynamodb.put_item(
                TableName=self.name,
                Item=to_item(reviewed, retention_days=self._retention_days),
                ConditionExpression="attribute_exists(photo_id) AND attribute_not_exists(review) "
                "AND outcome = :manual",
                ExpressionAttributeValues={":manual": {"S": Route.MANUAL_REVIEW.value}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def undo_review(self, original: CaptureRecord, reviewed: CaptureRecord) -> bool:
        """Put the record back as it was before `reviewed`, unless another review has replaced it."""
        assert reviewed.review is not None
        try:
            self._dynamodb.put_item(
                TableName=self.name,
                Item=to_item(original, retention_days=self._retention_days),
                ConditionExpression="review.reviewed_at = :at AND review.reviewer = :who",
                ExpressionAttributeValues={
                    ":at": {"S": reviewed.review.reviewed_at.isoformat().replace("+00:00", "Z")},
                    ":who": {"S": reviewed.review.reviewer},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def approximate_count(self) -> int:
        """DynamoDB's ItemCount: no scan, but AWS refreshes it only every six hours (moto counts live)."""
        return int(self._dynamodb.describe_table(TableName=self.name)["Table"]["ItemCount"])

    def scan(self) -> Iterator[CaptureRecord]:
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self.name):
            for item in page["Items"]:
                yield from_item(item)

    def _query(self, *, limit: int | None, **params: Any) -> Iterator[CaptureRecord]:
        seen = 0
        for page in self._dynamodb.get_paginator("query").paginate(TableName=self.name, **params):
            for item in page["Items"]:
                yield from_item(item)
                seen += 1
                if limit is not None and seen >= limit:
                    return
