"""The vehicle classifier behind a SageMaker real-time endpoint (or the local one that speaks its API)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shared.aws.ports import EndpointAnswer
from shared.contracts import Probabilities, RejectionReason
from shared.imaging import PAYLOAD_CONTENT_TYPE, PhotoRejected

__all__ = ["EndpointAnswer", "VehicleEndpoint"]


def _model_version(custom_attributes: str | None) -> str | None:
    for part in (custom_attributes or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "model_version" and value:
            return value
    return None


class VehicleEndpoint:
    def __init__(self, runtime: Any, name: str) -> None:
        self._runtime = runtime
        self.name = name

    def classify(self, jpeg: bytes) -> EndpointAnswer:
        """Probabilities for one payload (`shared.imaging.endpoint_payload`, a PNG). The model's own 4xx
        (bad image) rejects the photo for good; throttling, 5xx and timeouts raise, after botocore's
        retries, so SQS redelivers the record."""
        try:
            response = self._runtime.invoke_endpoint(
                EndpointName=self.name,
                ContentType=PAYLOAD_CONTENT_TYPE,
                Accept="application/json",
                Body=jpeg,
            )
        except ClientError as error:
            original = int(str(error.response.get("OriginalStatusCode") or 0))
            if error.response.get("Error", {}).get("Code") == "ModelError" and 400 <= original < 500:
                raise PhotoRejected(
                    RejectionReason.ENDPOINT_REJECTED, str(error.response.get("OriginalMessage", ""))[:200]
                ) from error
            raise
        scores = json.loads(response["Body"].read())
        return EndpointAnswer(
            Probabilities.from_endpoint(scores), _model_version(response.get("CustomAttributes"))
        )
