"""classifier: a job becomes a prediction from the SageMaker endpoint, or a rejection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from services.classifier.domain import to_prediction
from shared.aws.ports import MessageSender, PhotoReader, VehicleClassifier
from shared.contracts import PhotoJob
from shared.imaging import PhotoRejected, endpoint_payload
from shared.observability import log_photo
from shared.rejections import reject
from shared.settings import Settings


class Classifier:
    def __init__(
        self,
        *,
        settings: Settings,
        store: PhotoReader,
        endpoint: VehicleClassifier,
        route_queue: MessageSender,
        logger: Logger,
    ) -> None:
        self._settings = settings
        self._store = store
        self._endpoint = endpoint
        self._route_queue = route_queue
        self._logger = logger

    def classify(self, job: PhotoJob) -> dict[str, Any]:
        try:
            data = self._store.read(job.photo, max_bytes=self._settings.max_photo_bytes).data
            payload = endpoint_payload(
                data, side=self._settings.endpoint_image_side, max_pixels=self._settings.max_photo_pixels
            )
            answer = self._endpoint.classify(payload)
        except PhotoRejected as rejected:
            return reject(self._route_queue, self._logger, job.photo, job.driver_id, rejected)
        prediction = to_prediction(job, answer, self._endpoint.name)
        self._route_queue.send(prediction)
        log_photo(
            self._logger,
            "photo classified",
            job.photo,
            vehicle_class=prediction.vehicle_class.value,
            confidence=round(prediction.confidence, 4),
            payload_bytes=len(payload),
        )
        return {"outcome": "predicted", "vehicle_class": prediction.vehicle_class.value}
