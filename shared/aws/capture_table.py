"""The capture table: one item per photo, the reads users make of it, and the review desk's writes.

Besides the record, an item keeps what only the table needs: the index keys, its expiry, the number of
its latest review (what a correction's condition checks), the lease of the dispatcher looking at it,
and `open_item`, the key of the sparse index `open-items`: `review` while the photo waits for a
dispatcher, `publish` while its latest review is recorded and not yet published (the outbox), absent
otherwise. Only items with something left to do are in that index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared.aws.ports import OPEN_REVIEW, UNPUBLISHED
from shared.contracts import CaptureRecord, Claim, Route

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

BY_DRIVER = "by-driver"
BY_DAY = "by-day"
BY_DEPOT_DAY = "by-depot-day"
OPEN_ITEMS = "open-items"
# Attributes the table keeps for its indexes, expiry, conditions and leases, not part of the record.
_TABLE_ONLY = ("decision_day", "depot_day", "expires_at", "open_item", "review_number")
_CLAIM = ("claimed_by", "claim_expires")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_item(
    record: CaptureRecord, *, retention_days: int | None = None, unpublished: bool = False
) -> dict[str, Any]:
    plain = json.loads(record.model_dump_json(exclude_none=True, exclude={"claim"}), parse_float=Decimal)
    plain["decision_day"] = record.decision_day
    plain["depot_day"] = record.depot_day
    if retention_days:
        plain["expires_at"] = int((record.captured_at + timedelta(days=retention_days)).timestamp())
    if record.review is not None:
        plain["review_number"] = record.review.number
    if unpublished:
        plain["open_item"] = UNPUBLISHED
    elif record.is_open_review:
        plain["open_item"] = OPEN_REVIEW
    return {name: _serializer.serialize(value) for name, value in plain.items()}


def from_item(item: dict[str, Any]) -> CaptureRecord:
    plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
    for name in _TABLE_ONLY:
        plain.pop(name, None)
    claimed_by, expires = (plain.pop(name, None) for name in _CLAIM)
    for name, value in plain.items():
        if isinstance(value, Decimal):
            plain[name] = float(value)
    if claimed_by and expires is not None:
        plain["claim"] = {"by": claimed_by, "until": datetime.fromtimestamp(float(expires) / 1000, UTC)}
    return CaptureRecord.model_validate(plain)


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


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

    def get(self, photo_id: str, *, consistent: bool = False) -> CaptureRecord | None:
        item = self._dynamodb.get_item(
            TableName=self.name, Key={"photo_id": {"S": photo_id}}, ConsistentRead=consistent
        ).get("Item")
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
                        ":a": {"S": _iso(since)},
                        ":b": {"S": _iso(until)},
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

    def put_decision(self, reviewed: CaptureRecord) -> bool:
        """Record a review or correction, with its publish still to do (the outbox), in one conditional
        write: the first review only of a photo waiting for one, a correction only of the review it
        names, and neither while another dispatcher's lease holds. False when the condition failed."""
        review = reviewed.review
        assert review is not None
        values: dict[str, Any] = {
            ":me": {"S": review.reviewer},
            ":now": {"N": str(int(review.reviewed_at.timestamp() * 1000))},
        }
        if review.replaces is None:
            decided = "attribute_not_exists(review) AND outcome = :manual"
            values[":manual"] = {"S": Route.MANUAL_REVIEW.value}
        else:
            decided = "review_number = :replaced"
            if review.replaces == 1:  # a review recorded before reviews were numbered has no number
                unnumbered = "attribute_exists(review) AND attribute_not_exists(review_number)"
                decided = f"(review_number = :replaced OR ({unnumbered}))"
            values[":replaced"] = {"N": str(review.replaces)}
        unclaimed = "(attribute_not_exists(claim_expires) OR claim_expires < :now OR claimed_by = :me)"
        try:
            self._dynamodb.put_item(
                TableName=self.name,
                Item=to_item(reviewed, retention_days=self._retention_days, unpublished=True),
                ConditionExpression=f"attribute_exists(photo_id) AND {decided} AND {unclaimed}",
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def mark_published(self, photo_id: str, review_number: int) -> None:
        """Take a published review out of the outbox (unless a later one has replaced it)."""
        try:
            self._dynamodb.update_item(
                TableName=self.name,
                Key={"photo_id": {"S": photo_id}},
                UpdateExpression="REMOVE open_item",
                ConditionExpression="review_number = :n AND open_item = :publish",
                ExpressionAttributeValues={":n": {"N": str(review_number)}, ":publish": {"S": UNPUBLISHED}},
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise

    def claim(self, photo_id: str, by: str, until: datetime, now: datetime) -> Claim | None:
        """Take or renew the lease on a photo for `by`, unless another's lease holds at `now`: the
        holder's claim, which is `by`'s own when it was taken; None when there is no such photo."""
        try:
            self._dynamodb.update_item(
                TableName=self.name,
                Key={"photo_id": {"S": photo_id}},
                UpdateExpression="SET claimed_by = :me, claim_expires = :until",
                ConditionExpression="attribute_exists(photo_id) AND (attribute_not_exists(claim_expires) "
                "OR claim_expires < :now OR claimed_by = :me)",
                ExpressionAttributeValues={
                    ":me": {"S": by},
                    ":until": {"N": str(int(until.timestamp() * 1000))},
                    ":now": {"N": str(int(now.timestamp() * 1000))},
                },
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            record = self.get(photo_id, consistent=True)
            return None if record is None else record.claim
        return Claim(by=by, until=until)

    def release(self, photo_id: str, by: str) -> None:
        """End `by`'s lease on the photo; another's lease, or none, stays as it is."""
        try:
            self._dynamodb.update_item(
                TableName=self.name,
                Key={"photo_id": {"S": photo_id}},
                UpdateExpression="REMOVE claimed_by, claim_expires",
                ConditionExpression="claimed_by = :me",
                ExpressionAttributeValues={":me": {"S": by}},
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise

    def open_items(self, kind: str, *, depot_id: str | None = None) -> list[CaptureRecord]:
        """The records of the sparse index with this `open_item` (`review` or `publish`), at one depot
        when given, oldest decision first: however old, since only open items are in it."""
        params: dict[str, Any] = {
            "IndexName": OPEN_ITEMS,
            "KeyConditionExpression": "open_item = :kind",
            "ExpressionAttributeValues": {":kind": {"S": kind}},
            "ScanIndexForward": True,
        }
        if depot_id is not None:
            params["FilterExpression"] = "depot_id = :depot"
            params["ExpressionAttributeValues"][":depot"] = {"S": depot_id}
        return list(self._query(limit=None, **params))

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
