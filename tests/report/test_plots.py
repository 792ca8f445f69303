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
