"""The grid runner and the robustness battery compute their metrics through ``segrepro.metrics.Counts``:
on the same predictions they give the same mIoU and MisRatio, equal to the tensor-level helpers."""
import pytest
import torch

import segrepro.run.battery as battery
from segrepro import metrics
from segrepro.run.grid import GridSpec, run_grid
from segrepro.run.store import ResultStore


def _attack(model, images, labels, method, *, steps=10, snapshots=None, **kw):
    """Deterministic stand-in for an attack: shift every image by 0.3 (clamped)."""
    adv = (images + 0.3).clamp(0, 1)
    return {t: adv for t in snapshots} if snapshots else adv


def test_grid_and_battery_agree(tmp_path, monkeypatch, threshold_model):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(6, 3, 8, 8, generator=g)
    labels = torch.randint(0, 2, (6, 8, 8), generator=g)
    labels[:, 0, 0] = 255
    spec = GridSpec(study="x", preset="p", sources=("m",), targets=(), methods=("pgd",), steps=2, snapshots=(2,),
                    n_images=6, batch_size=4)
    store = ResultStore(tmp_path / "x.csv")
    run_grid(spec, store, {"m": threshold_model}, (images, labels), attack_fn=_attack, device="cpu", progress=False)
    grid = store.table.set_index(["method", "metric"])["value"]

    monkeypatch.setattr(battery, "attack", _attack)
    table = battery.robustness_table({"m": threshold_model}, images, labels,
                                     [battery.EvalAttack("Clean", None), battery.EvalAttack("PGD", "pgd", (2,))],
                                     batch_size=4).set_index("attack")
    for method, row in (("clean", "Clean"), ("pgd", "PGD")):
        assert grid[(method, "miou")] == table.loc[row, "miou"]
        assert grid[(method, "mis_ratio")] == table.loc[row, "mis_ratio"]

    adv = metrics.predict(threshold_model, _attack(None, images, labels, "pgd"))
    clean = metrics.predict(threshold_model, images)
    assert grid[("pgd", "mis_ratio")] == pytest.approx(metrics.mis_ratio(adv, labels))
    assert grid[("pgd", "asr")] == pytest.approx(metrics.attack_success_rate(clean, adv, labels))
    counts = metrics.Counts.of(adv, labels, 2)
    assert grid[("pgd", "miou")] == counts.miou
    assert grid[("pgd", "rel_drop")] == pytest.approx(metrics.relative_drop(counts.miou, grid[("clean", "miou")]))
