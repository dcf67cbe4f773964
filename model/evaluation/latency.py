"""Latency of the model server for a 32x32 PNG thumbnail and a 12-megapixel phone JPEG.

`python -m model.evaluation.latency [--endpoint-url URL] [--n 200] [--json]` starts a local server
unless a URL is given, then times POST /invocations: the server's own time (decode + resize + model,
header X-Inference-Ms) and the client's round trip (`bench.stats.summarise`: p50, p95, p99, max). It
also times the model alone (onnxruntime, in this process, same threads as the server) so the two can be
told apart. Images are made on the fly (a 12-MP JPEG with per-pixel noise: `--jpeg-noise 12` gives ~4.9
MB, the worst case; lower values give smaller, smoother files), or taken from --png/--jpeg.
`--bare-backbone` also times the plain ImageNet Lite0 at 224 px, to tell a slow host from a slow graph
(needs the train extra).
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click
import numpy as np
from PIL import Image

from bench.stats import summarise
from model.evaluation.evaluate import local_endpoint


def synthetic_jpeg_12mp(seed: int = 0, noise: float = 12.0) -> bytes:
    """4000x3000 JPEG (quality 92): smooth gradients plus per-pixel Gaussian noise of `noise` levels.

    The JPEG's size (and so its entropy-decoding time, the floor of a 12-MP request) grows with the noise.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:3000, 0:4000].astype(np.float32)
    base = np.stack([x / 4000 * 200, y / 3000 * 200, (x + y) / 7000 * 200], axis=-1)
    noisy = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(noisy).save(out, format="JPEG", quality=92)
    return out.getvalue()


def synthetic_png_32(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


WARM_UP = 3  # calls timed but not counted


def time_calls(call: Callable[[], object], n: int, side: int, threads: int) -> dict[str, Any]:
    """Percentiles of `n` calls of an in-process model run, after WARM_UP uncounted ones."""
    times = []
    for i in range(n + WARM_UP):
        start = time.perf_counter()
        call()
        if i >= WARM_UP:
            times.append((time.perf_counter() - start) * 1000)
    return {"side": side, "threads": threads, "n": n, "ms": summarise(times, digits=2)}


def time_models(n: int, model_dir: str | None, threads: int) -> dict[str, dict[str, Any]]:
    """onnxruntime alone on one input of the model's side (what the server adds to decode and resize),
    for each graph: `model_only` (the photo graph) and `model_only_thumbnail`."""
    from model.metadata import resolve_model_dir
    from model.serving.inference import Predictor

    predictor = Predictor(resolve_model_dir(model_dir), threads=threads)
    batch = np.random.default_rng(0).integers(0, 256, (1, predictor.side, predictor.side, 3), dtype=np.uint8)
    timed = {}
    for graph in predictor.graphs:
        name = "model_only" if graph == "photo" else f"model_only_{graph}"
        timed[name] = time_calls(partial(predictor.run, batch, graph), n, predictor.side, threads)
    return timed


def time_bare_backbone(n: int, side: int, threads: int) -> dict[str, Any]:
    """The plain ImageNet EfficientNet-Lite0 (float NCHW input, 1000 classes) at `side`, on this machine.

    A yardstick for the host rather than for our graph: GUIDE.md measured ~2.5 ms at 224 px elsewhere.
    Needs the `train` extra (torch exports the network).
    """
    import tempfile

    import onnxruntime as ort
    import torch

    from model.training.network import load_backbone

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bare.onnx"
        torch.onnx.export(
            load_backbone("efficientnet-lite0", side),
            (torch.zeros(1, 3, side, side),),
            str(path),
            input_names=["x"],
            opset_version=17,
            dynamo=False,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
    return time_calls(lambda: session.run(None, {"x": x}), n, side, threads)


def time_requests(url: str, body: bytes, content_type: str, n: int) -> dict[str, Any]:
    server_ms, client_ms = [], []
    for i in range(n + WARM_UP):
        request = urllib.request.Request(f"{url}/invocations", data=body, method="POST")
        request.add_header("Content-Type", content_type)
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as resp:
            resp.read()
            header = resp.headers.get("X-Inference-Ms")
        if i >= WARM_UP:
            client_ms.append((time.perf_counter() - start) * 1000)
            server_ms.append(float(header))
    return {
        "bytes": len(body),
        "n": n,
        "server_ms": summarise(server_ms, digits=2),
        "round_trip_ms": summarise(client_ms, digits=2),
    }


@click.command()
@click.option("--endpoint-url", default=None)
@click.option("--n", type=int, default=200, show_default=True)
@click.option("--png", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--jpeg", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--jpeg-noise", type=float, default=12.0, show_default=True, help="Noise in the 12-MP JPEG.")
@click.option("--model-dir", default=None, help="Model for the model-only timing (default: the server's).")
@click.option("--model-threads", type=int, default=2, show_default=True)
@click.option(
    "--bare-backbone",
    is_flag=True,
    help="Also time the plain Lite0 at 224 px (a yardstick for the host; needs the train extra).",
)
@click.option("--json", "as_json", is_flag=True)
def main(
    endpoint_url: str | None,
    n: int,
    png: Path | None,
    jpeg: Path | None,
    jpeg_noise: float,
    model_dir: str | None,
    model_threads: int,
    bare_backbone: bool,
    as_json: bool,
) -> None:
    png_body = png.read_bytes() if png else synthetic_png_32()
    jpeg_body = jpeg.read_bytes() if jpeg else synthetic_jpeg_12mp(noise=jpeg_noise)

    def run(url: str) -> dict[str, Any]:
        return {
            "png_32x32": time_requests(url, png_body, "image/png", n),
            "jpeg_12mp": time_requests(url, jpeg_body, "image/jpeg", max(20, n // 4)),
        }

    if endpoint_url:
        result = run(endpoint_url)
    else:
        with local_endpoint(None, "vehicle-classifier") as url:
            result = run(url)
    timed = time_models(n, model_dir, model_threads)
    if bare_backbone:
        timed["bare_backbone"] = time_bare_backbone(n, 224, model_threads)
    for name, r in timed.items():
        click.echo(
            f"{name:<20} {r['side']}x{r['side']} onnxruntime ({r['threads']} threads) "
            f"p50={r['ms']['p50']} ms p99={r['ms']['p99']} ms"
        )
    for name, r in result.items():
        click.echo(
            f"{name:<10} {r['bytes']:>9} B  server p50={r['server_ms']['p50']} ms "
            f"p99={r['server_ms']['p99']} ms  round trip p50={r['round_trip_ms']['p50']} ms "
            f"p99={r['round_trip_ms']['p99']} ms"
        )
    if as_json:
        click.echo(json.dumps({**timed, **result}))


if __name__ == "__main__":
    main()
