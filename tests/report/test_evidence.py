"""Arms: metrics from per-image counts under bootstrap weights, pairing across seeds."""
import numpy as np
import pandas as pd
import pytest
import torch

from segrepro.metrics import image_counts, metrics_from_counts
from segrepro.report.evidence import Arm, Evidence, MissingEvidence, shape
from segrepro.report.outcomes import bootstrap, resample_weights
from segrepro.run.counts import CountStore


def _counts(seed, n=6):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n, 5, 5), generator=g)
    p = torch.where(torch.rand(n, 5, 5, generator=g) < 0.6, y, torch.randint(0, 3, (n, 5, 5), generator=g))
    return {k: v.numpy() for k, v in image_counts(p, y, 3, clean_pred=y).items()}


def test_arm_metrics_equal_the_dataset_metrics_and_average_seeds():
    a, b = _counts(0), _counts(1)
    arm = Arm({k: np.stack([a[k], b[k]]) for k in a}, (0, 1))
    want = (metrics_from_counts(a)["miou"] + metrics_from_counts(b)["miou"]) / 2
    assert arm.miou()[0] == pytest.approx(want)
    assert arm.mis_ratio()[0] == pytest.approx((metrics_from_counts(a)["mis_ratio"] + metrics_from_counts(b)["mis_ratio"]) / 2)
    assert arm.asr()[0] == pytest.approx((metrics_from_counts(a)["asr"] + metrics_from_counts(b)["asr"]) / 2)


def test_one_seed_arm_pairs_with_several_seeds():
    a = _counts(0)
    det = Arm({k: v[None] for k, v in a.items()}, (0,))
    two = Arm({k: np.stack([v, v]) for k, v in a.items()}, (0, 1))
    assert shape(det, two) == (6, 2)
    w = resample_weights(6, 2, resamples=50)
    np.testing.assert_allclose(det.miou(w), two.miou(w))
    e = bootstrap(lambda w: 100 * (two.miou(w) - det.miou(w)), *shape(det, two))
    assert e.value == 0 and e.low is None  # identical arms: no variation


def test_evidence_reads_the_counts_behind_rows(tmp_path):
    store = CountStore(tmp_path)
    for seed in (0, 1):
        c = _counts(seed)
        store.save(f"cell{seed}", {("t", "1", 5): c, ("t", "1", 0): c})
    df = pd.DataFrame([dict(cell=f"cell{s}", source="s", target="t", eval_scale="1", method="ds", eps=0.03,
                            iteration=5, seed=s, metric="miou", value=0.0) for s in (0, 1)])
    arm = Evidence(tmp_path).arm(df, target="t", iteration=5, method="ds", eps=0.03)
    assert arm.seeds == (0, 1) and arm.counts["inter"].shape == (2, 6, 3)
    clean = Evidence(tmp_path).arm(df, target="t", iteration=0, method="ds")
    assert clean.n_images == 6
    with pytest.raises(MissingEvidence):
        Evidence(tmp_path).arm(df, target="t", iteration=5, method="bim")
