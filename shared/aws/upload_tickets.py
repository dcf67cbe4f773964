"""The uploads table (`UploadsTable`): the tickets the API issued, and each driver's count per minute.

Each decision is one conditional write, so two API instances or two ingest environments agree without
a lock: `start` counts a driver's new upload only while the minute's count is under the limit; `claim`
marks a ticket used by the first object ingest sees under it, and a redelivery of that same object
passes again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from shared.upload_tickets import IssuedUpload, TicketUse, TooManyUploads, UploadReused

# A ticket outlives the longest a photo can wait to be ingested: a DLQ keeps a message 14 days.
TICKET_RETENTION_S = 15 * 24 * 3600
WINDOW_S = 60


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class UploadTicketTable:
    def __init__(self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def start(self, driver_id: str, per_minute: int) -> None:
        """Count one new upload for the driver in this minute; `TooManyUploads` over the limit."""
        now = self._clock()
        window = int(now // WINDOW_S)
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": f"rate:{driver_id}:{window}"}},
                UpdateExpression="ADD started :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(started) OR started < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(per_minute)},
                    ":expires": {"N": str((window + 2) * WINDOW_S)},
                },
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            retry_after = max(1, math.ceil((window + 1) * WINDOW_S - now))
            raise TooManyUploads(per_minute, retry_after) from None

    def issue(self, upload: IssuedUpload) -> None:
        """Record the ticket. A retry of the same upload (the phone's own token) issues it again: an
        update, so a claim already made stays, and a second object under the id is still `upload-reused`."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"id": {"S": upload.upload_id}},
            UpdateExpression=(
                "SET driver_id = :driver, photo_key = :key, content_type = :type, #size = :size, "
                "expires_at = :expires"
            ),
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues={
                ":driver": {"S": upload.driver_id},
                ":key": {"S": upload.key},
                ":type": {"S": upload.content_type},
                ":size": {"N": str(upload.size)},
                ":expires": {"N": str(int(self._clock()) + TICKET_RETENTION_S)},
            },
        )

    def use_of(self, upload_id: str) -> TicketUse:
        """Whether the ticket exists and which photo used it: one strongly consistent read by key."""
        item = self._dynamodb.get_item(
            TableName=self._table,
            Key={"id": {"S": upload_id}},
            ProjectionExpression="#id, used_by",
            ExpressionAttributeNames={"#id": "id"},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return TicketUse(issued=False)
        return TicketUse(issued=True, photo_identity=item.get("used_by", {}).get("S"))

    def claim(self, upload_id: str, photo_identity: str) -> IssuedUpload | None:
        """The ticket, now used by this photo; None when the API issued no such upload.

        Raises `UploadReused` when another object already used it."""
        try:
            answer = self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": upload_id}},
                UpdateExpression="SET used_by = :photo",
                ConditionExpression=(
                    "attribute_exists(id) AND (attribute_not_exists(used_by) OR used_by = :photo)"
                ),
                ExpressionAttributeValues={":photo": {"S": photo_identity}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if not old:
                return None
            raise UploadReused(upload_id, str(old.get("used_by", {}).get("S", "?"))) from None
        item = answer["Attributes"]
        return IssuedUpload(
            upload_id=upload_id,
            driver_id=item["driver_id"]["S"],
            key=item["photo_key"]["S"],
            content_type=item["content_type"]["S"],
            size=int(item["size"]["N"]),
        )
