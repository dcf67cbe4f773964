"""The vehicle classifier behind a SageMaker real-time endpoint (or the local one that speaks its API).

One call per batch where it pays: several images go in one `application/jsonlines` call (one line per
image, one answer line per image); a single image keeps the plain single-image contract. Every image is
the classifier's payload (`shared.imaging.endpoint_payload`, a PNG)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.contracts import EndpointAnswer, PhotoRejected, Probabilities, RejectionReason
from shared.imaging import PAYLOAD_CONTENT_TYPE

# Ten records a batch; the endpoint takes up to 32 lines and 6 MB (a resized photo is 20-60 KB).
BATCH_LIMIT = 10


@dataclass(frozen=True)
class AnswerFacts:
    """What the endpoint says of every answer in its custom attributes: the model's version, and the
    class of each probability (`classes=bicycle|motorcycle|none`), in the model's own order."""

    model_version: str | None
    labels: tuple[str, ...]

    @classmethod
    def of(cls, response: Any) -> AnswerFacts:
        fields = {}
        for part in str(response.get("CustomAttributes") or "").split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        labels = tuple(label for label in fields.get("classes", "").split("|") if label)
        if not labels:
            # A model that does not name its classes cannot be read safely: SQS retries, then the DLQ.
            raise ValueError("the endpoint's answer names no classes (CustomAttributes classes=...)")
        return cls(fields.get("model_version") or None, labels)

    def answer(self, line: Any) -> EndpointAnswer | PhotoRejected:
        if isinstance(line, dict):
            # The model refused this one image (corrupt, bomb): a rejection, not a retry.
            return PhotoRejected(RejectionReason.ENDPOINT_REJECTED, str(line.get("message", line))[:200])
        return EndpointAnswer(Probabilities.from_endpoint(self.labels, line), self.model_version)


class VehicleEndpoint:
    def __init__(self, runtime: Any, name: str, *, batch_limit: int = BATCH_LIMIT) -> None:
        self._runtime = runtime
        self.name = name
        self.batch_limit = min(batch_limit, BATCH_LIMIT)

    def classify(self, payload: bytes) -> EndpointAnswer:
        """Probabilities for one payload. The model's own 4xx (bad image) rejects the photo for good;
        throttling, 5xx and timeouts raise, after botocore's retries, so SQS redelivers the record."""
        response = self._invoke(PAYLOAD_CONTENT_TYPE, payload)
        answer = AnswerFacts.of(response).answer(json.loads(response["Body"].read()))
        if isinstance(answer, PhotoRejected):
            raise answer
        return answer

    def send_batch(self, jpegs: Sequence[bytes]) -> list[EndpointAnswer | PhotoRejected]:
        """One answer (or rejection) per payload, in one endpoint call. An error of the whole call raises."""
        if len(jpegs) == 1:
            return [self._one(jpegs[0])]
        body = "".join(json.dumps({"image": base64.b64encode(j).decode()}) + "\n" for j in jpegs)
        try:
            response = self._invoke("application/jsonlines", body.encode())
        except PhotoRejected:
            # The model refused the call as a whole: let each image get its own answer.
            return [self._one(jpeg) for jpeg in jpegs]
        facts = AnswerFacts.of(response)
        lines = [json.loads(line) for line in response["Body"].read().decode().splitlines() if line.strip()]
        if len(lines) != len(jpegs):
            raise ValueError(f"the endpoint answered {len(lines)} lines for {len(jpegs)} images")
        return [facts.answer(line) for line in lines]

    def _one(self, jpeg: bytes) -> EndpointAnswer | PhotoRejected:
        try:
            return self.classify(jpeg)
        except PhotoRejected as rejected:
            return rejected

    def _invoke(self, content_type: str, body: bytes) -> Any:
        accept = "application/jsonlines" if content_type == "application/jsonlines" else "application/json"
        try:
            return self._runtime.invoke_endpoint(
                EndpointName=self.name, ContentType=content_type, Accept=accept, Body=body
            )
        except ClientError as error:
            original = int(str(error.response.get("OriginalStatusCode") or 0))
            if error.response.get("Error", {}).get("Code") == "ModelError" and 400 <= original < 500:
                raise PhotoRejected(
                    RejectionReason.ENDPOINT_REJECTED, str(error.response.get("OriginalMessage", ""))[:200]
                ) from error
            raise
