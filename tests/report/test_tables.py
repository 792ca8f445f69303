import math

import pandas as pd
import pytest

from segrepro.report.tables import paper_name, pivot_transfer_table, summarise, with_paper_values
from segrepro.run.store import COLUMNS


def _rows():
    rows = []

    def add(source, target, method, it, seed, value, metric="miou"):
        rows.append(dict(study="s", preset="shapes", grid="main", cell=f"{source}{method}{seed}", source=source,
                         target=target, eval_scale="1", method=method, params="{}", eps=0.03, iteration=it,
                         seed=seed, metric=metric, value=value))
    for seed, shift in ((0, 0.0), (1, 0.02)):
        # FS on psp_r18: best transfer at iteration 5, worse again at 10 (overfitting)
        add("psp_r18", "fcn8s_vgg16", "bim", 5, seed, 0.40 + shift)
        add("psp_r18", "fcn8s_vgg16", "bim", 10, seed, 0.50 + shift)
        add("psp_r18", "psp_r18", "bim", 5, seed, 0.10 + shift)
        add("psp_r18", "psp_r18", "bim", 10, seed, 0.05 + shift)
        add("psp_r18", "fcn8s_vgg16", "ds", 10, seed, 0.30 + shift)
        add("psp_r18", "psp_r18", "ds", 10, seed, 0.08 + shift)
    for t, v in (("fcn8s_vgg16", 0.70), ("psp_r18", 0.80)):
        rows.append(dict(study="s", preset="shapes", grid="main", cell="clean-x", source="-", target=t,
                         eval_scale="1", method="clean", params="{}", eps=0.0, iteration=0, seed=0,
                         metric="miou", value=v))
    return pd.DataFrame(rows)[COLUMNS]


def test_pivot_last_and_best():
    last = pivot_transfer_table(_rows(), iteration="last")
    assert last.loc[("psp_r18", "bim"), "fcn8s_vgg16"] == pytest.approx(51.0)  # mean of 50 and 52
    assert last.loc[("psp_r18", "ds"), "psp_r18"] == pytest.approx(9.0)
    assert last.loc[("clean", "-"), "fcn8s_vgg16"] == pytest.approx(70.0)
    assert list(last.index)[0] == ("clean", "-")
    best = pivot_transfer_table(_rows(), iteration="best", with_clean=False)
    assert best.loc[("psp_r18", "bim"), "fcn8s_vgg16"] == pytest.approx(41.0)  # iteration 5
    assert best.loc[("psp_r18", "bim"), "psp_r18"] == pytest.approx(11.0)  # same iteration for all targets
    with pytest.raises(ValueError, match="stored"):
        pivot_transfer_table(_rows(), iteration=7)
    with pytest.raises(ValueError, match="iteration must be"):
        pivot_transfer_table(_rows(), iteration="first")


def test_summarise_interval():
    s = summarise(_rows()[lambda d: (d.method == "ds") & (d.target == "psp_r18")], by=["method"])
    # 0.08, 0.10: mean 0.09, sd 0.014142, se 0.01, t(0.975, 1) = 12.706
    assert s.loc[0, "mean"] == pytest.approx(0.09) and s.loc[0, "n"] == 2
    assert s.loc[0, "high"] - s.loc[0, "mean"] == pytest.approx(0.12706, abs=1e-4)


def test_with_paper_values_maps_names():
    paper = pd.DataFrame({"source": ["PSPNet-Res50"], "target": ["FCN8s-VGG16"], "method": ["DS"],
                          "metric": ["miou"], "value": [20.5]})
    rows = _rows()
    out = with_paper_values(rows[rows.method == "ds"], paper)
    hit = out[(out.target == "FCN8s-VGG16")]
    assert hit["ours"].iloc[0] == pytest.approx(31.0) and hit["paper"].iloc[0] == 20.5
    assert paper_name("psp_r18@PGD3-AT") == "PSPNet-Res50@PGD3-AT" and paper_name("bim") == "FS"


def test_mean_ci_ignores_nan_and_has_no_interval_for_one_value():
    from segrepro.report.tables import mean_ci

    assert mean_ci([1.0, float("nan"), 3.0])[0] == 2.0
    mean, low, high = mean_ci([5.0])
    assert mean == 5.0 and math.isnan(low) and math.isnan(high)


def test_figure_bands_are_the_range_of_the_seeds():
    from segrepro.report.tables import seed_range, summarise

    assert seed_range([1.0, 3.0, float("nan")]) == (2.0, 1.0, 3.0)
    mean, low, high = seed_range([5.0])
    assert mean == 5.0 and math.isnan(low) and math.isnan(high)
    rows = pd.DataFrame({"target": ["a", "a"], "value": [0.40, 0.44]})
    band = summarise(rows, by=["target"], band="range").iloc[0]
    t = summarise(rows, by=["target"]).iloc[0]
    assert (band["low"], band["high"]) == (0.40, 0.44)
    assert t["high"] - t["low"] > 10 * (band["high"] - band["low"])  # two seeds: t(1) = 12.7 times the spread
    with pytest.raises(ValueError, match="band"):
        summarise(rows, by=["target"], band="sd")
