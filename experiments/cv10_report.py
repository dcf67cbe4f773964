"""The figures of `experiments.recipe_cv10`'s folds: the chain's decisions out of fold, with intervals.

`python -m experiments.cv10_report [--results DIR] [--json] [--markdown]` (numpy only: no torch) reads
`DIR/fold-NN.npz`, `DIR/folds.csv` and `DIR/other-photos.npz` and decides every held-out image the way
the router does: "no two-wheeler" when the "other" head's logit reaches its offset, else manual review
when the confidence is under the threshold, else the likelier class's bay. The threshold (the served
rule: the lowest confidence whose accuracy above it is at least 0.995) and the offset (99% of the
inliers kept) of fold k are chosen on the out-of-fold scores of the other folds, so no figure comes from
a number chosen on the images it scores. Each share carries its 95% Wilson interval (`bench.stats`).
With fewer than ten folds done it reports those done, and says so.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray

from bench.stats import wilson
from experiments.recipe_cv10 import FOLDS, PHOTOS_FILE, RESULTS, SERVED_OTHER_LAMBDA
from model.dataset import CLASSES
from model.label_corrections import load_corrections
from model.metadata import ThresholdChoice
from model.training.neither import cross_validate_photo_screen, inlier_threshold
from model.training.recipe import SEED, FloatArray, choose_threshold

PRIOR_WEIGHT = 0.25  # metadata.json thumbnail.cv.prior_weight (the train split's CV)
TARGET_ACCURACY = 0.995  # ThumbnailConfig.target_accuracy: the served threshold rule
OTHER_KEEP = 0.99  # ThumbnailConfig.other_keep
PHOTO_KEPT_TARGET = 0.98  # TrainConfig.other_kept_target
HEADS = ("served", "perturbed")
REVIEW_TARGET, WRONG_BAY_TARGET = 0.05, 0.005


@dataclass
class Pooled:
    """Every done fold's arrays, in the folds' order, with the fold of each row."""

    folds: list[dict[str, Any]]

    def cat(self, name: str, axis: int = 0) -> NDArray[Any]:
        return np.concatenate([f[name] for f in self.folds], axis=axis)

    def fold_of(self, name: str, axis: int = 0) -> NDArray[np.int64]:
        return np.concatenate([np.full(f[name].shape[axis], k) for k, f in enumerate(self.folds)])


def labels(results: Path) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_], list[str]]:
    """Corrected and original labels, a test-split mask and the files, by the experiment's image index
    (the order `model.dataset.load_samples` gives: label, then path)."""
    with (results / "folds.csv").open(newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: (CLASSES.index(r["label"]), r["file"]))
    corrections = load_corrections(labels=CLASSES)
    corrected = np.array([CLASSES.index(r["label"]) for r in rows])
    original = corrected.copy()
    for i, row in enumerate(rows):
        parts = row["file"].split("/")
        if fix := corrections.get((parts[0], parts[-1])):
            original[i] = CLASSES.index(fix.manifest_label)
    test = np.array([r["file"].startswith("test/") for r in rows])
    return corrected, original, test, [r["file"] for r in rows]


def share(k: int, n: int) -> dict[str, float | int]:
    low, high = wilson(k, n)
    return {"k": k, "n": n, "share": k / n if n else float("nan"), "low": low, "high": high}


def cross_fitted(values: FloatArray, fold: NDArray[np.int64], choose: Any) -> FloatArray:
    """Per row, the number `choose` gives on the rows of every other fold."""
    out = np.zeros(len(values))
    for k in np.unique(fold):
        out[fold == k] = choose(~(fold == k))
    return out


def decide(logit: FloatArray, other: FloatArray, threshold: FloatArray, offset: FloatArray) -> NDArray[Any]:
    """0 / 1: the class's bay; -1: manual review (unsure); -2: no two-wheeler."""
    p = 1 / (1 + np.exp(-logit))
    confidence = np.maximum(p, 1 - p)
    out = (logit > 0).astype(np.int64)
    out[confidence < threshold] = -1
    out[other >= offset] = -2
    return out


def figures(decision: NDArray[Any], y: NDArray[np.int64]) -> dict[str, Any]:
    n = len(y)
    routed = decision >= 0
    return {
        "wrong_bay": share(int((routed & (decision != y)).sum()), n),
        "review": share(int((~routed).sum()), n),
        "no_two_wheeler": share(int((decision == -2).sum()), n),
    }


def trade_off(logit: FloatArray, y: NDArray[np.int64]) -> dict[str, Any]:
    """On the confidence alone, pooled out of fold: wrong bay with the least confident 5% reviewed, and
    the review share (least confident first) that holds the wrong bays to 0.5%."""
    order = np.argsort(-np.abs(logit), kind="stable")
    wrong = ((logit > 0) != y)[order]
    wrong_if_routed = np.concatenate([[0], np.cumsum(wrong)])
    n = len(y)
    routed = round((1 - REVIEW_TARGET) * n)
    k = int(np.nonzero(wrong_if_routed <= WRONG_BAY_TARGET * n)[0].max())
    return {
        "wrong_bay_at_5pct_review": share(int(wrong_if_routed[routed]), n),
        "review_at_0.5pct_wrong_bay": share(n - k, n),
    }


def report(results: Path) -> dict[str, Any]:
    paths = [results / f"fold-{k:02d}.npz" for k in range(1, FOLDS + 1)]
    done = [dict(np.load(p)) for p in paths if p.exists()]
    if not done:
        raise click.ClickException(f"no fold in {results}: run `python -m experiments.recipe_cv10 run` first")
    pool = Pooled(done)
    y_all, y_orig_all, test_all, files = labels(results)
    idx = pool.cat("fold")
    fold = pool.fold_of("fold")
    y, y_orig, test = y_all[idx], y_orig_all[idx], test_all[idx]
    logit = pool.cat("head") + PRIOR_WEIGHT * pool.cat("prior")

    def rule(mask: NDArray[np.bool_]) -> float:
        choice: ThresholdChoice = choose_threshold(logit[mask], y[mask], TARGET_ACCURACY)
        return choice.threshold

    threshold = cross_fitted(logit, fold, rule)
    out: dict[str, Any] = {
        "folds_done": [int(p.stem[-2:]) for p in paths if p.exists()],
        "n": len(y),
        "fold_seconds": [round(float(f["seconds"]), 1) for f in done],
        "prior_weight": PRIOR_WEIGHT,
        "other_lambda": SERVED_OTHER_LAMBDA,
        "thresholds": sorted({round(float(t), 4) for t in threshold}),
        "accuracy": {
            "corrected": share(int(((logit > 0) == y).sum()), len(y)),
            "original": share(int(((logit > 0) == y_orig).sum()), len(y)),
        },
        "trade_off": {"corrected": trade_off(logit, y), "original": trade_off(logit, y_orig)},
        "heads": {},
    }
    kinds = [str(k) for k in done[0]["kinds"]]
    pert_logit = pool.cat("pert_head", 1) + PRIOR_WEIGHT * pool.cat("pert_prior", 1)
    other_logit = pool.cat("other_head") + PRIOR_WEIGHT * pool.cat("other_prior")
    other_fold = pool.fold_of("other_head")
    for head in HEADS:
        inlier = pool.cat(f"{head}_inlier")
        offset = cross_fitted(inlier, fold, lambda mask, s=inlier: inlier_threshold(s[mask], OTHER_KEEP))
        decision = decide(logit, inlier, threshold, offset)
        pert = pool.cat(f"{head}_pert", 1)
        per_kind = {
            kind: figures(decide(pert_logit[j], pert[j], threshold, offset), y)
            for j, kind in enumerate(kinds)
        }
        every = np.concatenate([decide(pert_logit[j], pert[j], threshold, offset) for j in range(len(kinds))])
        y_rep, test_rep = np.tile(y, len(kinds)), np.tile(test, len(kinds))
        # the other/ thumbnails are decided with their own fold's threshold and offset
        fold_threshold = {k: float(threshold[fold == k][0]) for k in np.unique(fold)}
        fold_offset = {k: float(offset[fold == k][0]) for k in np.unique(fold)}
        other_decision = decide(
            other_logit,
            pool.cat(f"{head}_other"),
            np.array([fold_threshold[k] for k in other_fold]),
            np.array([fold_offset[k] for k in other_fold]),
        )
        wrong = [files[i] for i, d in zip(idx, decision, strict=True) if d >= 0 and d != y_all[i]]
        out["heads"][head] = {
            "wrong_bay_files": wrong,
            "corrected": figures(decision, y),
            "original": figures(decision, y_orig),
            "test_split": figures(decision[test], y[test]),
            "perturbed": figures(every, y_rep),
            "perturbed_test_split": figures(every[test_rep], y_rep[test_rep]),
            "perturbed_by_kind": per_kind,
            "other_thumbnails_kept": share(int((other_decision < 0).sum()), len(other_decision)),
        }
    photos = np.load(results / PHOTOS_FILE)
    screen = cross_validate_photo_screen(
        photos["two_wheeler"], photos["confident"], PHOTO_KEPT_TARGET, FOLDS, SEED
    )
    n_photos = len(photos["files"])
    out["other_photos_kept"] = share(round(screen.oof_kept * n_photos), n_photos)
    return out


def pct(s: dict[str, Any]) -> str:
    return f"{100 * s['share']:.2f}% ({s['k']}/{s['n']:,}; {100 * s['low']:.2f}-{100 * s['high']:.2f}%)"


def markdown(r: dict[str, Any]) -> str:
    served, wider = (r["heads"][h] for h in HEADS)
    done = len(r["folds_done"])
    lines = [
        f"Folds done: {done} of {FOLDS} ({r['n']:,} images out of fold); thresholds chosen per fold "
        f"{', '.join(f'{t:g}' for t in r['thresholds'])}.",
        "",
        '| figure (out of fold, 95% Wilson) | served "other" head | with perturbed copies | target |',
        "|---|---|---|---|",
    ]

    def row(name: str, key: tuple[str, ...], target: str) -> None:
        def get(h: dict[str, Any]) -> dict[str, Any]:
            for k in key:
                h = h[k]
            return h

        lines.append(f"| {name} | {pct(get(served))} | {pct(get(wider))} | {target} |")

    lines.append(f"| accuracy, corrected labels | {pct(r['accuracy']['corrected'])} | (same network) | |")
    lines.append(f"| accuracy, labels as given | {pct(r['accuracy']['original'])} | (same network) | |")
    row("wrong bay, corrected", ("corrected", "wrong_bay"), "<= 0.5% (upper <= 1.1%)")
    row("wrong bay, labels as given", ("original", "wrong_bay"), "")
    row("review, corrected", ("corrected", "review"), "<= 5%")
    row("  of which no two-wheeler", ("corrected", "no_two_wheeler"), "")
    for key, name in (
        ("wrong_bay_at_5pct_review", "wrong bay at 5% review"),
        ("review_at_0.5pct_wrong_bay", "review at 0.5% wrong bay"),
    ):
        lines.append(
            f"| {name} (confidence alone) | {pct(r['trade_off']['corrected'][key])} | (same network) | |"
        )
    row("perturbed copies: wrong bay", ("perturbed", "wrong_bay"), "<= 1%")
    row("perturbed copies: review", ("perturbed", "review"), "<= 10%")
    row("perturbed copies: no two-wheeler (false none)", ("perturbed", "no_two_wheeler"), "")
    row("perturbed test split: wrong bay", ("perturbed_test_split", "wrong_bay"), "<= 1%")
    row("perturbed test split: review", ("perturbed_test_split", "review"), "<= 10%")
    for kind in served["perturbed_by_kind"]:
        s_k, w_k = served["perturbed_by_kind"][kind], wider["perturbed_by_kind"][kind]
        lines.append(
            f"| {kind}: wrong bay / review / none | {pct(s_k['wrong_bay'])} / {pct(s_k['review'])} / "
            f"{pct(s_k['no_two_wheeler'])} | {pct(w_k['wrong_bay'])} / {pct(w_k['review'])} / "
            f"{pct(w_k['no_two_wheeler'])} | |"
        )
    row("other/ as 32 px thumbnails kept from a bay", ("other_thumbnails_kept",), "")
    lines.append(
        f"| other/ photos as sent kept from a bay (photo graph) | {pct(r['other_photos_kept'])} | "
        "(photo graph) | >= 95% |"
    )
    return "\n".join(lines)


@click.command()
@click.option(
    "--results", type=click.Path(file_okay=False, path_type=Path), default=RESULTS, show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON.")
@click.option("--markdown", "as_markdown", is_flag=True, help="The model card's table.")
def main(results: Path, as_json: bool, as_markdown: bool) -> None:
    """The 10-fold figures from the folds run so far."""
    r = report(results)
    if as_json:
        click.echo(json.dumps(r, indent=1))
    if as_markdown or not as_json:
        click.echo(markdown(r))


if __name__ == "__main__":
    main()
