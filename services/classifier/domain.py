"""From the endpoint's probabilities to a prediction: pure, no AWS."""

from __future__ import annotations

from shared.contracts import EndpointAnswer, PhotoJob, Prediction


def to_prediction(job: PhotoJob, answer: EndpointAnswer, endpoint_name: str) -> Prediction:
    vehicle_class, confidence = answer.probabilities.top
    return Prediction(
        photo=job.photo,
        driver_id=job.driver_id,
        probabilities=answer.probabilities,
        vehicle_class=vehicle_class,
        confidence=confidence,
        endpoint_name=endpoint_name,
        model_version=answer.model_version,
        ingested_at=job.received_at,
    )
