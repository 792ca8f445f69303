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


def test_arms_of_other_image_counts_pair_over_the_first_images():
    long, short = _counts(0, n=10), _counts(1, n=4)
    a = Arm({k: v[None] for k, v in long.items()}, (0,))
    b = Arm({k: v[None] for k, v in short.items()}, (0,))
    assert shape(a, b) == (4, 1)  # the shorter arm's images are the longer one's first
    first = Arm({k: v[None, :4] for k, v in long.items()}, (0,))
    w = resample_weights(4, 1, resamples=20)
    np.testing.assert_allclose(a.miou(w), first.miou(w))
    e = bootstrap(lambda w: 100 * (a.miou(w) - b.miou(w)), *shape(a, b))
    assert e.n_images == 4
    assert e.value == pytest.approx(100 * (metrics_from_counts({k: v[:4] for k, v in long.items()})["miou"]
                                           - metrics_from_counts(short)["miou"]))
    with pytest.raises(ValueError, match="seed counts"):
        shape(Arm({k: np.stack([v, v]) for k, v in short.items()}, (0, 1)),
              Arm({k: np.stack([v, v, v]) for k, v in short.items()}, (0, 1, 2)))


def test_clean_rows_of_other_image_counts_keep_the_largest_sample(tmp_path):
    store = CountStore(tmp_path)
    big, small = _counts(0, n=8), _counts(0, n=4)
    store.save("clean-big", {("t", "1", 0): big})
    store.save("clean-small", {("t", "1", 0): small})
    store.save("adv0", {("t", "1", 5): big})
    store.save("adv1", {("t", "1", 5): small})
    rows = [dict(cell=c, source="-", target="t", eval_scale="1", method="clean", eps=0.0, iteration=0, seed=0,
                 metric="miou", value=0.0) for c in ("clean-small", "clean-big")]
    rows += [dict(cell=f"adv{s}", source="s", target="t", eval_scale="1", method="pgd", eps=0.03, iteration=5,
                  seed=s, metric="miou", value=0.0) for s in (0, 1)]
    ev, df = Evidence(tmp_path), pd.DataFrame(rows)
    clean = ev.arm(df, target="t", iteration=0, method="clean")
    assert clean.n_images == 8 and clean.seeds == (0,)
    with pytest.raises(ValueError, match="different image counts"):  # seeds of one attack on other images: a bug
        ev.arm(df, target="t", iteration=5, method="pgd")
