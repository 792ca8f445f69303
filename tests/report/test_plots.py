import numpy as np
import pandas as pd
import pytest

from segrepro.report import plots
from segrepro.report.tables import pivot_transfer_table
from segrepro.run.store import COLUMNS


def _rows():
    rows = []
    for seed in (0, 1):
        for it, v in ((1, 0.6), (5, 0.4), (10, 0.5)):
            for target in ("a", "b"):
                rows.append(dict(study="s", preset="shapes", grid="g", cell=f"c{seed}", source="a", target=target,
                                 eval_scale="1", method="bim", params="{}", eps=0.03, iteration=it, seed=seed,
                                 metric="miou", value=v + 0.01 * seed))
        for lam, v in ((0.1, 0.5), (0.5, 0.3)):
            rows.append(dict(study="s", preset="shapes", grid="lam", cell=f"l{lam}{seed}", source="a", target="b",
                             eval_scale="1", method="ds", params=f'{{"lam":{lam}}}', eps=0.03, iteration=10,
                             seed=seed, metric="miou", value=v))
            rows.append(dict(study="s", preset="shapes", grid="lam", cell=f"l{lam}{seed}", source="a", target="a",
                             eval_scale="1", method="ds", params=f'{{"lam":{lam}}}', eps=0.03, iteration=10,
                             seed=seed, metric="seconds_per_example", value=1.0 + lam))
    return pd.DataFrame(rows)[COLUMNS]


def test_miou_vs_iterations_draws_one_line_per_target_and_paper_points():
    paper = pd.DataFrame({"target": ["b"], "iteration": [5], "value": [30.0]})
    fig = plots.miou_vs_iterations(_rows(), source="a", method="bim", paper=paper)
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    assert list(ax.lines[0].get_ydata()) == pytest.approx([60.5, 40.5, 50.5])  # mean of seeds, in %
    assert len(ax.collections) == 3  # two CI bands, one paper scatter
    with pytest.raises(ValueError, match="no miou rows"):
        plots.miou_vs_iterations(_rows(), source="zzz")


def test_heatmap_annotates_every_cell():
    table = pivot_transfer_table(_rows()[lambda d: d.method == "bim"], iteration="last", with_clean=False)
    fig = plots.transfer_heatmap(table)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["50.5", "50.5"]


def test_param_ablation_and_frontier():
    fig = plots.param_ablation(_rows(), param="lam", source="a", target="b", method="ds")
    assert list(fig.axes[0].lines[0].get_xdata()) == [0.1, 0.5]
    fig = plots.cost_transfer_frontier(_rows())
    labels = sorted(t.get_text() for t in fig.axes[0].texts)
    assert labels == ['ds {"lam":0.1}', 'ds {"lam":0.5}']
    with pytest.raises(ValueError, match="parameter 'beta'"):
        plots.param_ablation(_rows(), param="beta", source="a", target="b")


def test_adversarial_grid_layout():
    clean = np.zeros((2, 3, 4, 4))
    adv = clean + 0.03
    labels = np.zeros((2, 4, 4), dtype=np.int64)
    fig = plots.adversarial_grid(clean, adv, labels, {"pred": labels}, n=2)
    assert len(fig.axes) == 2 * 5 and fig.axes[2].get_title().startswith("perturbation")


def test_adversarial_grid_colours_real_dataset_labels_with_their_palettes():
    import numpy as np

    from segrepro.report.plots import _colour

    labels = np.array([[0, 1], [15, 255]])
    voc = _colour(labels, "voc")
    assert voc[0, 0].tolist() == [0, 0, 0] and voc[0, 1].tolist() == [128, 0, 0]  # VOC background, aeroplane
    assert voc[1, 1].tolist() == [255, 255, 255]  # the VOC boundary (ignore) is drawn white
    city = _colour(np.array([[0, 255]]), "cityscapes")
    assert city[0, 0].tolist() == [128, 64, 128] and city[0, 1].tolist() == [0, 0, 0]  # road; ignore black


def test_house_style_restores_only_its_own_settings():
    import matplotlib.pyplot as plt

    from segrepro.report.figstyle import RC, house

    before = plt.rcParams["font.size"]
    with house():
        assert plt.rcParams["font.size"] == RC["font.size"]
        plt.rcParams["interactive"] = True  # what the inline backend does when a first figure resolves it
    assert plt.rcParams["font.size"] == before
    assert plt.rcParams["interactive"] is True  # kept: later figures of a notebook still show
    plt.rcParams["interactive"] = False


def test_every_figure_uses_the_page_width_and_dpi():
    from segrepro.report.figstyle import DPI, PAGE_WIDTH_IN

    fig = plots.transfer_curves(_rows(), [("bim", "{}")])
    assert fig.get_size_inches()[0] == pytest.approx(PAGE_WIDTH_IN) and fig.dpi == DPI
    assert fig.axes[0].get_xlabel() == "attack iterations" and fig.axes[0].get_ylabel() == "mean transfer mIoU (%)"
    fig = plots.interval_plot(pd.DataFrame({"label": ["a -> b"], "value": [-3.0], "low": [-4.0], "high": [-2.0],
                                            "paper_value": [-20.0]}), xlabel="DS - FS (points)", claimed="lower")
    labels = fig.legends[0].get_texts() if fig.legends else fig.axes[0].get_legend().get_texts()
    assert {t.get_text() for t in labels} == {"ours (95 % interval)", "paper", "claimed side"}


def test_heatmap_marks_white_box_cells_and_names_its_axes():
    from matplotlib.patches import Rectangle

    table = pivot_transfer_table(_rows()[lambda d: d.method == "bim"], iteration="last", with_clean=False)
    fig = plots.transfer_heatmap(table)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert len(boxes) == 1 and boxes[0].get_xy() == (-0.5, -0.5)  # source a, target a
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("target model", "source model / method")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["white-box (target = source)"]


def test_frontier_labels_do_not_overlap():
    rows = []
    for i, m in enumerate(["bim", "pgd", "mi", "di", "ti", "ds"]):  # six methods at almost the same point
        for metric, v in (("miou", 0.5 + 0.001 * i), ("seconds_per_example", 1.0 + 0.001 * i)):
            rows.append(dict(study="s", preset="shapes", grid="g", cell=m, source="a", target="b", eval_scale="1",
                             method=m, params="{}", eps=0.03, iteration=10, seed=0, metric=metric, value=v))
    fig = plots.cost_transfer_frontier(pd.DataFrame(rows)[COLUMNS])
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].texts]
    assert len(boxes) == 6
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_examples_figure_has_a_class_legend():
    import torch

    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (1, 8, 8), generator=g)
    clean = torch.rand(1, 3, 8, 8, generator=g)
    ex = {"clean": clean, "labels": labels, "adv": {"bim": clean + 0.03}, "preset": "shapes", "source": "a",
          "pred": {(m, t): labels for m in ("clean", "bim") for t in ("a", "b")}}
    fig = plots.examples_figure(ex, n=1)
    assert len(fig.axes) == 2 * 4  # clean row and one method row; image, truth/perturbation, two targets
    legend = fig.legends[0]
    assert legend.get_title().get_text() == "classes"
    assert {t.get_text() for t in legend.get_texts()} <= set(plots.class_names("shapes"))
    assert "(source, white-box)" in fig.axes[2].get_title() and "(transfer)" in fig.axes[3].get_title()
