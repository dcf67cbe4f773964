"""The first phase: the model alone, the limit the chain is measured against.

The same images go through the model package's preprocessing and onnxruntime in this process (no AWS,
no HTTP). This is the only bench module that imports the model package.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.load import Sample
from bench.stats import rate


def bench_model(
    samples: Sequence[Sample], *, images: int, batch: int = 10, budget_s: float = 20.0
) -> dict[str, Any]:
    """Images/s through the model package alone: decode + resize + onnxruntime, batch 1 (what one
    endpoint call per photo does) and batches of `batch`; plus inference alone on pre-resized arrays.

    Each figure stops after `budget_s` seconds, so a slow machine gives a rate rather than a hang."""
    import numpy as np

    from model.metadata import resolve_model_dir
    from model.serving.inference import Predictor
    from model.serving.preprocess import load_model_input

    predictor = Predictor(resolve_model_dir())
    side = predictor.side
    datas = [samples[i % len(samples)].data for i in range(images)]

    def timed(run: Callable[[], int]) -> float:
        started = time.perf_counter()
        done = run()
        return rate(done, time.perf_counter() - started)

    def one_by_one() -> int:
        deadline = time.monotonic() + budget_s
        for count, data in enumerate(datas, 1):
            predictor.predict_image(data)
            if time.monotonic() > deadline:
                return count
        return len(datas)

    def batched() -> int:
        deadline = time.monotonic() + budget_s
        done = 0
        for start in range(0, len(datas), batch):
            chunk = datas[start : start + batch]
            predictor.run(np.stack([load_model_input(d, side) for d in chunk]))
            done += len(chunk)
            if time.monotonic() > deadline:
                break
        return done

    # Each distinct photo resized once: what is left is onnxruntime's own cost.
    arrays = [load_model_input(d, side) for d in datas[: min(len(datas), len(samples))]]

    def inference_only(size: int) -> Callable[[], int]:
        def run() -> int:
            deadline = time.monotonic() + budget_s
            done = 0
            for start in range(0, images, size):
                chunk = [arrays[(start + j) % len(arrays)] for j in range(min(size, images - start))]
                predictor.run(np.stack(chunk))
                done += len(chunk)
                if time.monotonic() > deadline:
                    break
            return done

        return run

    figures = {
        "preprocess_and_infer_batch_1": timed(one_by_one),
        f"preprocess_and_infer_batch_{batch}": timed(batched),
        "infer_only_batch_1": timed(inference_only(1)),
        f"infer_only_batch_{batch}": timed(inference_only(batch)),
    }
    return {
        "images": images,
        "model_version": predictor.version,
        "input_side": side,
        "threads": predictor.threads,
        "images_per_s": figures,
        # The limit: the model package's own per-image work (decode, resize, run), the better batching.
        "limit_images_per_s": max(
            figures["preprocess_and_infer_batch_1"], figures[f"preprocess_and_infer_batch_{batch}"]
        ),
    }
