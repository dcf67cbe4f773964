"""ONNX export of the torch graphs, the float16 shrink and the check of an export against torch."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from model.serving.preprocess import to_model_input


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_onnx(module: Any, side: int, path: Path, outputs: list[str]) -> None:
    import torch

    module.eval()
    torch.onnx.export(
        module,
        (torch.zeros(1, side, side, 3, dtype=torch.uint8),),
        str(path),
        input_names=["image"],
        output_names=outputs,
        dynamic_axes={"image": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
        opset_version=17,
        dynamo=False,
    )


def ort_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def shrink_fp16(path: Path) -> None:
    """Store large float32 initialisers as float16 behind a Cast (onnxruntime folds it at load)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < 1024:
            continue
        arr = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(arr, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.save(model, str(path))


def verify_export(
    classifier: Any, path: Path, images: list[Image.Image], side: int, threads: int, tolerance: float = 1e-3
) -> float:
    """Largest |torch - onnxruntime| probability over a few training images."""
    import torch

    batch = np.stack([to_model_input(img, side) for img in images])
    with torch.no_grad():
        expected = classifier(torch.from_numpy(batch)).numpy()
    got = ort_session(path, threads).run(None, {"image": batch})[0]
    diff = float(np.abs(expected - got).max())
    if diff > tolerance:
        raise RuntimeError(f"ONNX export of {path.name} differs from torch by {diff} (> {tolerance})")
    return diff
