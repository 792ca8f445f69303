"""The robustness battery: its items, the runs it makes (snapshots), the tidy table, errors."""
import math

import pytest
import torch
from torch import nn

import segrepro.run.battery as rob
from _at_toys import ToyNet, ToyPixels
from segrepro.models.wrap import SegModel
from segrepro.run.battery import COLUMNS, EvalAttack, default_battery, robustness_table

torch.set_num_threads(1)


class Threshold(SegModel):
    """Class 1 where channel 0 > 0.5, else class 0 (fixed weights, logits +-10 (x0 - 0.5))."""

    def __init__(self):
        super().__init__(2, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), config={"name": "threshold"})
        self.scale = nn.Parameter(torch.tensor(10.0))

    def _run(self, x):
        z = self.scale * (x[:, :1] - 0.5)
        return torch.cat([-z, z], 1), x


def half_images(n=4, size=4):
    """Left half bright (class 1), right half dark (class 0)."""
    x = torch.full((n, 3, size, size), 0.2)
    x[..., : size // 2] = 0.8
    y = (x[:, 0] > 0.5).long()
    return x, y


def test_default_battery_matches_the_papers_columns():
    b = default_battery()
    assert [(e.name, e.steps) for e in b] == [
        ("Clean", (0,)), ("FGSM", (1,)), ("BIM", (10,)), ("PGD", (10, 20, 40, 100)), ("SegPGD", (20, 100)),
        ("CosPGD", (20, 100)), ("RP-PGD", (20, 100)), ("CW", (20, 100))]
    bim = b[2]
    assert bim.norm == "l2" and bim.method == "bim"
    assert bim.eps == pytest.approx(0.01 * 166.2768, rel=1e-5)  # sqrt(3 * 96 * 96) = 166.2768
    assert bim.alpha == pytest.approx(bim.eps / 4)


def test_battery_step_counts_are_parameters():
    b = default_battery(pgd_steps=(2, 5), strong_steps=(3,), bim_steps=0, cw=False, image_shape=(3, 8, 8))
    assert [(e.name, e.steps) for e in b] == [("Clean", (0,)), ("FGSM", (1,)), ("PGD", (2, 5)), ("SegPGD", (3,)),
                                              ("CosPGD", (3,)), ("RP-PGD", (3,))]


@pytest.mark.parametrize("item, runs", [
    (EvalAttack("PGD", "pgd", (10, 20, 40, 100)), [(100, [10, 20, 40, 100])]),   # one run, snapshots
    (EvalAttack("CosPGD", "cospgd", (100, 20)), [(100, [20, 100])]),
    (EvalAttack("CW", "cw", (20, 100)), [(100, [20, 100])]),
    (EvalAttack("SegPGD", "segpgd", (20, 100)), [(20, [20]), (100, [100])]),       # lambda_t depends on T
    (EvalAttack("RP-PGD", "rp_pgd", (20, 100)), [(20, [20]), (100, [100])]),
    (EvalAttack("FGSM", "fgsm", (1,)), [(1, [1])]),
])
def test_runs_use_snapshots_only_for_schedule_free_methods(item, runs):
    assert rob._runs(item) == runs


def test_one_engine_run_per_schedule_free_attack_and_batch(monkeypatch):
    calls = []

    def fake(model, x, y, method, *, steps, snapshots, **kw):
        calls.append((method, steps, list(snapshots), len(x), kw["step"]))
        return {t: x for t in snapshots}

    monkeypatch.setattr(rob, "attack", fake)
    x, y = half_images(n=6)
    battery = [EvalAttack("PGD", "pgd", (10, 20, 40, 100)), EvalAttack("SegPGD", "segpgd", (20, 100)),
               EvalAttack("BIM", "bim", (10,), norm="l2", eps=1.0, alpha=0.25)]
    table = robustness_table(Threshold(), x, y, battery, batch_size=4)
    assert calls == [("pgd", 100, [10, 20, 40, 100], 4, "linf"), ("pgd", 100, [10, 20, 40, 100], 2, "linf"),
                     ("segpgd", 20, [20], 4, "linf"), ("segpgd", 100, [100], 4, "linf"),
                     ("segpgd", 20, [20], 2, "linf"), ("segpgd", 100, [100], 2, "linf"),
                     ("bim", 10, [10], 4, "l2"), ("bim", 10, [10], 2, "l2")]
    assert list(table["steps"]) == [10, 20, 40, 100, 20, 100, 10]
    assert list(table["eps"]) == [0.03] * 6 + [1.0]


def test_table_rows_hold_hand_computed_metrics(monkeypatch):
    # the fake attack inverts the images: every valid pixel flips class
    monkeypatch.setattr(rob, "attack", lambda model, x, y, method, *, snapshots, **kw: {t: 1 - x for t in snapshots})
    x, y = half_images()
    y[:, 0, 0] = 255  # ignored pixels count nowhere
    model = Threshold()
    model.checkpoint_meta = {"train_config": {"at_method": "rp_pgd", "at_steps": 3}}
    table = robustness_table({"m": model, "plain": Threshold()}, x, y,
                             [EvalAttack("Clean", None), EvalAttack("PGD", "pgd", (2,))])
    assert list(table.columns) == COLUMNS
    rows = table.set_index(["model", "attack"])
    assert rows.loc[("m", "Clean"), ["miou", "mis_ratio", "steps", "eps"]].tolist() == [1.0, 0.0, 0, 0.0]
    assert rows.loc[("m", "PGD"), ["miou", "mis_ratio", "steps"]].tolist() == [0.0, 1.0, 2]
    assert rows.loc[("m", "PGD"), "training_attack"] == "RP-PGD3-AT"
    assert rows.loc[("plain", "PGD"), "training_attack"] == "Standard"
    assert rows.loc[("m", "PGD"), "n_images"] == 4


def test_training_attack_names_can_be_given():
    x, y = half_images(n=2)
    table = robustness_table({"a": Threshold()}, x, y, [EvalAttack("Clean", None)], training_attacks={"a": "X"})
    assert table["training_attack"].tolist() == ["X"]


def test_snapshot_rows_equal_separate_runs_on_a_real_model():
    torch.manual_seed(0)
    model = ToyNet()
    x, y = ToyPixels(4, seed=2).tensors()
    both = robustness_table(model, x, y, [EvalAttack("PGD", "pgd", (1, 3))], batch_size=2)
    one = robustness_table(model, x, y, [EvalAttack("PGD", "pgd", (1,))], batch_size=2)
    assert both["miou"].iloc[0] == one["miou"].iloc[0]


def test_errors():
    x, y = half_images(n=2)
    with pytest.raises(ValueError, match="at least one model"):
        robustness_table({}, x, y)
    with pytest.raises(ValueError, match="positive integer steps"):
        robustness_table(Threshold(), x, y, [EvalAttack("PGD", "pgd", (0,))])
    with pytest.raises(TypeError, match="num_classes"):
        robustness_table({"bad": nn.Identity()}, x, y, [EvalAttack("Clean", None)])
    with pytest.raises(ValueError, match="unknown method"):
        robustness_table(Threshold(), x, y, [EvalAttack("X", "nope", (1,))])
    with pytest.raises((TypeError, ValueError)):
        robustness_table(Threshold(), x * 3, y, [EvalAttack("Clean", None)])
    assert math.isfinite(robustness_table(Threshold(), x, y, [EvalAttack("Clean", None)])["miou"].iloc[0])
