"""The serving model: an ONNX graph plus its metadata, run with onnxruntime (no torch).

`Predictor` is built once per process. It turns request bodies into `[p_bicycle, p_motorcycle, p_other]`
lists (`[p_bicycle, p_motorcycle]` from a model trained without a "neither" screen: the graph's output
is passed on as it is); request-level problems raise `RequestError` carrying the HTTP status the server
answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from model.dataset import OTHER_CLASS
from model.metadata import ModelMetadata
from model.serving.preprocess import ImageDecodeError, ImageTooLargeError, load_sized_input
from shared.contracts import NONE

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time endpoints accept at most 6 MB per request
MAX_BATCH_ITEMS = 32

IMAGE_CONTENT_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "application/x-image"})
JSONLINES_CONTENT_TYPES = frozenset({"application/jsonlines", "application/x-jsonlines", "application/jsonl"})


class RequestError(Exception):
    """A problem with the request, never with the server: answered with `status` and a JSON body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


def unsupported_content_type(content_type: str) -> RequestError:
    accepted = sorted(IMAGE_CONTENT_TYPES | {"application/jsonlines"})
    return RequestError(
        415, "unsupported-content-type", f"content type {content_type!r}; accepted: {accepted}"
    )


def image_error(exc: Exception) -> RequestError:
    if isinstance(exc, ImageTooLargeError):
        return RequestError(400, "decompression-bomb", str(exc))
    return RequestError(400, "corrupt-image", str(exc))


@dataclass
class Predictor:
    """onnxruntime sessions over the exported graphs and what metadata.json says about them.

    `model.onnx` (the photo graph) answers every upload, unless the metadata names a thumbnail graph:
    then uploads whose longer side is at most its `max_side` pixels go to that one instead. Both take
    the same input and answer on the same scale, so one router threshold serves both.
    """

    model_dir: Path
    threads: int = 2
    metadata: ModelMetadata = field(init=False)
    side: int = field(init=False)
    version: str = field(init=False)
    thumbnail_max_side: int = field(init=False)
    load_seconds: float = field(init=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort  # imported here: the server binds its port before paying for this

        start = time.perf_counter()
        self.metadata = ModelMetadata.load(self.model_dir)
        self.side = self.metadata.input_side
        self.version = self.metadata.model_version
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # onnxruntime's pool threads spin after each run waiting for the next one: CPU burnt while the
        # endpoint is idle, taken from whatever shares the host (the local stack, other containers).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        thumbnail = self.metadata.thumbnail
        self.thumbnail_max_side = thumbnail.max_side if thumbnail else 0
        cpu = ["CPUExecutionProvider"]
        self._sessions = {
            graph: ort.InferenceSession(str(self.model_dir / name), options, providers=cpu)
            for graph, name in self.metadata.graph_files().items()
        }
        self._inputs = {graph: session.get_inputs()[0].name for graph, session in self._sessions.items()}
        for graph in self._sessions:  # one warm-up run so the first request skips lazy initialisation
            self.run(np.zeros((1, self.side, self.side, 3), dtype=np.uint8), graph)
        self.load_seconds = time.perf_counter() - start

    @property
    def labels(self) -> list[str]:
        """The class of each probability, in the graph's order: the metadata's classes, with the
        "neither" class under the serving contract's name for it, `none` (no two-wheeler)."""
        return [NONE if name == OTHER_CLASS else name for name in self.metadata.classes]

    @property
    def threshold(self) -> float:
        return self.metadata.threshold

    @property
    def graphs(self) -> tuple[str, ...]:
        return tuple(self._sessions)

    def graph_for(self, native_side: int) -> str:
        """Which graph answers an upload whose longer side is `native_side` pixels."""
        return "thumbnail" if native_side <= self.thumbnail_max_side else "photo"

    def run(self, batch: NDArray[np.uint8], graph: str = "photo") -> NDArray[np.float32]:
        probs = self._sessions[graph].run(None, {self._inputs[graph]: batch})[0]
        return np.asarray(probs, dtype=np.float32)

    def predict_image(self, data: bytes) -> list[float]:
        return self.classify(data)[0]

    def classify(self, data: bytes) -> tuple[list[float], str]:
        """Probabilities for one image and the graph that answered."""
        try:
            arr, native_side = load_sized_input(data, self.side)
        except (ImageDecodeError, ImageTooLargeError) as exc:
            raise image_error(exc) from exc
        graph = self.graph_for(native_side)
        return _as_list(self.run(arr[None], graph)[0]), graph

    def predict_jsonlines(self, body: bytes) -> list[dict[str, str] | list[float]]:
        """One answer per non-empty line: probabilities, or {"error", "message"} for that item."""
        try:
            lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as exc:
            raise RequestError(400, "bad-request", f"jsonlines body is not UTF-8: {exc}") from exc
        if not lines:
            raise RequestError(400, "bad-request", "empty jsonlines body")
        if len(lines) > MAX_BATCH_ITEMS:
            raise RequestError(
                400, "too-many-items", f"{len(lines)} lines; at most {MAX_BATCH_ITEMS} per call"
            )
        results: list[dict[str, str] | list[float]] = []
        batches: dict[str, tuple[list[int], list[NDArray[np.uint8]]]] = {}
        for line in lines:
            try:
                arr, native_side = load_sized_input(_decode_line(line), self.side)
                slots, arrays = batches.setdefault(self.graph_for(native_side), ([], []))
                slots.append(len(results))
                arrays.append(arr)
                results.append([])
            except RequestError as exc:
                results.append(exc.body())
            except (ImageDecodeError, ImageTooLargeError) as exc:
                results.append(image_error(exc).body())
        for graph, (slots, arrays) in batches.items():
            probs = self.run(np.stack(arrays), graph)
            for slot, row in zip(slots, probs, strict=True):
                results[slot] = _as_list(row)
        return results


def _decode_line(line: str) -> bytes:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RequestError(400, "bad-request", f"line is not JSON: {exc.msg}") from exc
    if not isinstance(item, dict) or not isinstance(item.get("image"), str):
        raise RequestError(400, "bad-request", 'each line must be {"image": "<base64>"}')
    try:
        data = base64.b64decode(item["image"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(400, "bad-request", f"image is not valid base64: {exc}") from exc
    if not data:
        raise RequestError(400, "corrupt-image", "empty image")
    return data


def _as_list(row: NDArray[np.float32]) -> list[float]:
    # float64 sum of two rounded float32s stays within 1e-6 of 1
    return [float(v) for v in row.tolist()]
