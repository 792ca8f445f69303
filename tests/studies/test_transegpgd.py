"""The TranSegPGD study: grids for every profile, table and claim builders on hand-made rows, smoke run."""
import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from segrepro.report import transfer as tt
from segrepro.report.claims import verdict_glue
from segrepro.run import get_profile
from segrepro.studies import get_study
from segrepro.studies.transegpgd import claims as tsc
from segrepro.studies.transegpgd import grids as tsp
from segrepro.studies.transegpgd import report as tsr

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_transegpgd.ipynb"


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grids_are_well_formed_for_every_profile(name):
    p = get_profile(name)
    grids = get_study("transegpgd").grids(p)
    assert {g.study for g in grids} == {"transegpgd"} and {g.preset for g in grids} == {p.presets[0]}
    transfer = [g for g in grids if g.grid == "transfer"]
    methods = {m.name for g in transfer for m in g.methods}
    assert methods == set(tsp.methods(p)) == {"pgd", "segpgd", "cospgd", "ds", "mi", "di", "ti", "transegpgd",
                                              "transegpgd+mi", "transegpgd+di", "transegpgd+ti"}
    for g in grids:
        assert g.eps == (max(p.eps),) and g.steps == p.steps
        assert math.ceil(p.steps / 2) in g.snapshots and g.snapshots[-1] == p.steps
        for m in g.methods:  # seeds change nothing for BIM-like methods: they run the first seed only
            assert g.seeds == (p.seeds[:1] if m.name in {"mi", "ti", "transegpgd", "transegpgd+mi",
                                                         "transegpgd+ti"} else p.seeds)
    assert {s for g in transfer for s in g.sources} == set(p.sources[:2])
    ablation = [g for g in grids if g.grid == "ablation"]
    assert {s for g in ablation for s in g.sources} == {p.sources[1]}
    # the default TranSegPGD of the ablation is the transfer grid's cell: same key, computed once
    keys = {c.key for g in transfer for c in g.cells()}
    default = [c for g in ablation for c in g.cells() if c.method.params_json == "{}"]
    assert len(default) == 1 and default[0].key in keys
    assert len({c.key for g in grids for c in g.cells()}) == len(keys) + 8


def test_snapshots_add_the_end_of_stage_one():
    assert tsp.snapshots(SimpleNamespace(steps=7, snapshots=(1, 20))) == (1, 4, 7)  # profiles refuse 20 > 7


def test_method_params_of_the_profile_reach_compositions():
    p = get_profile("smoke", method_params={"mi": {"decay": 0.5}, "transegpgd": {"beta": 0.2}})
    assert dict(tsp.method_spec(p, "transegpgd+mi").params) == {"decay": 0.5, "beta": 0.2}
    assert dict(tsp.method_spec(p, "transegpgd", beta=0.3).params) == {"beta": 0.3}


def test_baseline_grids_reject_unknown_methods():
    with pytest.raises(ValueError, match="valid"):
        tsp.baseline_grids(get_profile("smoke"), ["pgd", "nope"])


def test_labels_and_determinism():
    assert tt.label("transegpgd", '{"gamma":0.3}') == "transegpgd gamma=0.3"
    assert tt.label("segtrans", '{"grid_sizes":[2]}') == "segtrans grid_sizes=2"
    assert tt.is_deterministic("transegpgd+ti") and not tt.is_deterministic("transegpgd+di")
    assert not tt.is_deterministic("pgd")
    assert tt.is_transform("mi") and tt.is_transform("di") and tt.is_transform("ds")
    assert not tt.is_transform("pgd") and not tt.is_transform("transegpgd+mi") and not tt.is_transform("fgsm")


def test_baselines_come_from_the_profile_and_the_methods_table():
    p = get_profile("smoke")
    assert tsp.attack_baselines(p) == ("pgd", "segpgd", "cospgd", "ds")
    assert tsp.ours(p) == ("transegpgd", "transegpgd+mi", "transegpgd+di", "transegpgd+ti")
    fewer = get_profile("smoke", baselines=("pgd", "mi"))
    assert tsp.methods(fewer) == ("pgd", "ds", "mi", "transegpgd", "transegpgd+mi")


def test_iterations_to_reach_interpolates_between_snapshots():
    c = pd.DataFrame({"iteration": [2, 4], "mean": [0.3, 0.5]})
    assert tt.iterations_to_reach(c, 0.4) == pytest.approx(3.0)
    assert tt.iterations_to_reach(c, 0.15) == pytest.approx(1.0)  # from (0, 0) to (2, 0.3)
    assert tt.iterations_to_reach(c, 0.6) == math.inf


# ----------------------------------------------------------------- hand-made rows

PROFILE = dict(sources=("a", "b"), targets=("a", "b", "c"), steps=4, snapshots=(2, 4), seeds=(0, 1),
               eps=(0.03,), n_images=8)
#: mIoU (fraction) of every transfer pair by method; random methods add 0.01 * seed.
BASE = {"pgd": 0.30, "segpgd": 0.28, "cospgd": 0.26, "ds": 0.25, "mi": 0.22, "di": 0.29, "ti": 0.27,
        "transegpgd": 0.20, "transegpgd+mi": 0.18, "transegpgd+di": 0.21, "transegpgd+ti": 0.23}


def _rows(method, params="{}", seeds=(0, 1), sources=("a", "b"), value=None, metric="miou", iteration=4):
    value = value or (lambda seed, s, t: BASE[method] + 0.01 * seed + (0.1 if s == "b" else 0.0))
    return [dict(study="transegpgd", preset="shapes", grid="transfer", cell=f"{method}{params}{seed}", source=s,
                 target=t, eval_scale="1", method=method, params=params, eps=0.03, iteration=iteration, seed=seed,
                 metric=metric, value=value(seed, s, t))
            for seed in seeds for s in sources for t in ("a", "b", "c")]


def _table():
    rows = []
    for m in BASE:
        rows += _rows(m, seeds=(0,) if tt.is_deterministic(m) else (0, 1))
    rows += _rows("transegpgd", '{"gamma":0.5}', seeds=(0,), sources=("b",), value=lambda *_: 0.50)
    rows += _rows("transegpgd", '{"beta":0.5}', seeds=(0,), sources=("b",), value=lambda *_: 0.33)
    for params, wb in (("{}", 0.9), ('{"gamma":0.5}', 0.8)):  # white-box MisRatio at t=2 (end of stage 1)
        rows += _rows("transegpgd", params, seeds=(0,), sources=("b",), metric="mis_ratio", iteration=2,
                      value=lambda seed, s, t, wb=wb: wb if s == t else 0.0)
    return pd.DataFrame(rows)


def test_transfer_table_means_over_pairs_and_seeds():
    table = tsr.transfer_table(_table(), get_profile("smoke")).set_index("method")
    # pgd: source a pairs (a->b, a->c) 0.30 / 0.31, source b pairs 0.40 / 0.41; mean 0.355
    assert table.loc["pgd", "transfer"] == pytest.approx(35.5)
    assert table.loc["pgd", "from a"] == pytest.approx(30.5) and table.loc["pgd", "from b"] == pytest.approx(40.5)
    assert table.loc["pgd", "white-box"] == pytest.approx(35.5)  # a->a and b->b rows
    assert table.loc["transegpgd", "seeds"] == 1 and math.isnan(table.loc["transegpgd", "low"])
    combo = tsr.combination_table(_table(), get_profile("smoke")).set_index("attack")
    assert combo.loc["mi", "difference"] == pytest.approx((0.18 - 0.22) * 100)


def test_sweep_includes_the_default():
    p = get_profile("smoke", **PROFILE)
    s = tsr.sweep(_table(), p, "gamma")
    assert list(s["gamma"]) == [0.1, 0.5] and list(s["mean"]) == pytest.approx([30.0, 50.0])
    with pytest.raises(ValueError, match="gamma"):
        tsr.sweep(_table(), p, "lam")


def test_claims_verdicts_on_hand_made_rows():
    p = get_profile("smoke", **PROFILE)
    c = tsc.claims(_table(), p)
    sota = c[c["id"] == "tsp_state_of_the_art"]
    assert len(sota) == 4
    # transegpgd (one seed: 0.25) vs pgd (seeds: 0.35, 0.36): differences -10, -11 points,
    # t interval (1 dof) -10.5 +- 12.706 * 0.7071 / 1.4142 = -10.5 +- 6.35: below 0 -> reproduced
    first = sota.iloc[0]
    assert first["verdict"] == "reproduced" and first["our value"] == "-10.50 [-16.85, -4.15] (n=2)"
    # both deterministic: the replicates are the 4 transfer pairs, all -4 points -> zero width, reproduced
    mi = c[c["id"] == "tsp_combines_with_mi"].iloc[0]
    assert mi["verdict"] == "reproduced" and "source-target pairs" in mi["comment"]
    stage1 = c[c["id"] == "tsp_stage1_fools_all"].iloc[0]  # 0.9 vs 0.8 MisRatio, one value: partly
    assert stage1["verdict"] == "partly" and stage1["our value"].startswith("10.00")
    stage2 = c[c["id"] == "tsp_stage2_kl"].iloc[0]  # 0.30 vs 0.33 on the two pairs from b
    assert stage2["verdict"] == "reproduced" and stage2["our value"].startswith("-3.00")
    assert verdict_glue(c)["v_tsp_state_of_the_art"].startswith("4 comparisons: ")
    assert set(c["study"]) == {"transegpgd"} and set(c["eps"]) == {p.side_eps}


def test_compare_needs_both_methods():
    with pytest.raises(ValueError, match="both methods"):
        tt.compare(_table(), tt.key("transegpgd"), tt.key("nope"), expect="lower")


# ----------------------------------------------------------------- smoke scale, end to end


@pytest.mark.slow
def test_study_and_notebook_at_smoke_scale(tmp_path, monkeypatch):
    import papermill
    import torch

    from segrepro.studies import run_study

    torch.set_num_threads(1)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))  # models: the shared cache
    p = get_profile("smoke")
    df = run_study(p, "transegpgd", progress=False)
    assert set(tsp.methods(p)) <= set(df["method"])
    assert len(tsc.claims(df, p)) == 7
    out = tmp_path / "02.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False)
    assert "tsp_state_of_the_art" in out.read_text()
