"""classifier: a job becomes a prediction from the SageMaker endpoint, or a rejection.

The endpoint is called once per invocation for every photo of the batch (through the outbox); each
answer then becomes that photo's prediction or rejection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from services.classifier.domain import to_prediction
from services.classifier.settings import ClassifierSettings
from shared.aws.ports import MessageSender, PhotoReader, VehicleClassifier
from shared.batching import Outbox
from shared.contracts import EndpointAnswer, PhotoJob, PhotoRejected
from shared.imaging import endpoint_payload
from shared.observability import log_photo
from shared.rejections import reject


class Classifier:
    """No idempotency guard: a job seen twice is classified twice (the endpoint is stateless), and the
    router's deduplicated publish still gives one decision per photo."""

    def __init__(
        self,
        *,
        settings: ClassifierSettings,
        store: PhotoReader,
        endpoint: VehicleClassifier,
        route_queue: MessageSender,
        outbox: Outbox,
        logger: Logger,
    ) -> None:
        self._settings = settings
        self._store = store
        self._endpoint = endpoint
        self._route_queue = route_queue
        self._outbox = outbox
        self._logger = logger

    def classify(self, job: PhotoJob) -> None:
        try:
            data = self._store.read(job.photo, max_bytes=self._settings.max_photo_bytes).data
            payload = endpoint_payload(
                data, side=self._settings.endpoint_image_side, max_pixels=self._settings.max_photo_pixels
            )
        except PhotoRejected as rejected:
            reject(self._route_queue, self._logger, job.photo, job.driver_id, rejected)
            return

        def answered(answer: EndpointAnswer | Exception) -> None:
            self._answered(job, answer, payload_bytes=len(payload))

        self._outbox.add(self._endpoint, payload, then=answered)

    def _answered(self, job: PhotoJob, answer: EndpointAnswer | Exception, **fields: Any) -> None:
        if isinstance(answer, PhotoRejected):
            reject(self._route_queue, self._logger, job.photo, job.driver_id, answer)
            return
        if isinstance(answer, Exception):
            raise answer
        prediction = to_prediction(job, answer, self._endpoint.name)
        self._route_queue.send(prediction)
        log_photo(
            self._logger,
            "photo classified",
            job.photo,
            vehicle_class=prediction.vehicle_class,
            confidence=round(prediction.confidence, 4),
            **fields,
        )
