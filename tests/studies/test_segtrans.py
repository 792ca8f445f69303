"""The SegTrans study: grids for every profile, ASR/cost/efficiency builders on hand-made rows, smoke run."""
import math
from pathlib import Path

import pandas as pd
import pytest

from segrepro.report import transfer as tt
from segrepro.run import get_profile
from segrepro.studies import get_study
from segrepro.studies.segtrans import claims as stc
from segrepro.studies.segtrans import grids as stg
from segrepro.studies.segtrans import report as st
from segrepro.studies.transegpgd import grids as tsp

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_segtrans.ipynb"


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grids_are_well_formed_for_every_profile(name):
    p = get_profile(name)
    grids = get_study("segtrans").grids(p)
    assert {g.study for g in grids} == {"segtrans"} and get_study("segtrans").extra is stg.extra
    transfer = [g for g in grids if g.grid == "transfer"]
    assert {m.name for g in transfer for m in g.methods} == {"segtrans", "segtrans_zoom", "bim"}
    sizes = [dict(m.params).get("grid_sizes") for g in grids if g.grid == "grid_size" for m in g.methods]
    assert sorted(sizes, key=str) == sorted([None, (2,), (3,), (4,)], key=str)
    # the default SegTrans of the ablation is the transfer cell; the shared baselines have the keys of the
    # TranSegPGD study's transfer grid (so that study's cells are reused, not recomputed)
    st_keys = {c.key for g in transfer for c in g.cells()}
    assert any(c.key in st_keys for g in grids if g.grid == "grid_size" for c in g.cells())
    tsp_keys = {c.key for g in tsp.transfer_grids(p) for c in g.cells()}
    shared = {c.key for g in tsp.baseline_grids(p, stg.shared(p)) for c in g.cells()}
    assert shared <= tsp_keys and len(shared) == sum(len(g.cells()) for g in tsp.baseline_grids(p, stg.shared(p)))
    assert stg.shared(p) == ("pgd", "ds", "transegpgd", "mi", "di", "transegpgd+mi", "transegpgd+di")
    for g in grids:
        assert g.preset == p.presets[0] and g.eps == (max(p.eps),)
        assert g.n_images == (16 if name == "embedded" else p.n_images)  # the embedded budget cap


# ----------------------------------------------------------------- hand-made rows

PROFILE = dict(sources=("a", "b"), targets=("a", "b", "c"), steps=4, snapshots=(2, 4), seeds=(0, 1),
               eps=(0.03,), n_images=8)
#: transfer ASR (fraction) at iterations 2 and 4; random methods add 0.01 * seed; seconds per example.
ASR = {"segtrans": (0.30, 0.50), "segtrans_zoom": (0.10, 0.20), "pgd": (0.20, 0.30), "ds": (0.25, 0.40),
       "transegpgd": (0.20, 0.35), "mi": (0.15, 0.25), "di": (0.10, 0.20), "transegpgd+mi": (0.2, 0.3),
       "transegpgd+di": (0.2, 0.3), "bim": (0.1, 0.2)}
SECONDS = {"segtrans": 0.10, "segtrans_zoom": 0.10, "ds": 0.11, "bim": 0.10}


def _table(grid_size=True):
    rows = []

    def add(method, params, seeds, sources, metric, value, iteration):
        rows.extend(dict(study="segtrans", preset="shapes", grid="transfer", cell=f"{method}{params}{seed}",
                         source=s, target=t, eval_scale="1", method=method, params=params, eps=0.03,
                         iteration=iteration, seed=seed, metric=metric, value=value(seed, s, t))
                    for seed in seeds for s in sources for t in (("a", "b", "c") if metric in ("asr", "miou")
                                                                   else (s,)))

    for m, (a2, a4) in ASR.items():
        seeds = (0,) if tt.is_deterministic(m) else (0, 1)
        for it, a in ((2, a2), (4, a4)):
            add(m, "{}", seeds, ("a", "b"), "asr", lambda seed, s, t, a=a: a + 0.01 * seed, it)
        add(m, "{}", seeds, ("a", "b"), "miou", lambda *_: 0.4, 4)
        add(m, "{}", seeds, ("a", "b"), "seconds_per_example", lambda *_, m=m: SECONDS.get(m, 0.2), 4)
        add(m, "{}", seeds, ("a", "b"), "forward_passes_per_example", lambda *_: 4.0, 4)
        add(m, "{}", seeds, ("a", "b"), "backward_passes_per_example", lambda *_: 4.0, 4)
    if grid_size:
        for k, a in ((2, 0.6), (3, 0.7), (4, 0.8)):
            add("segtrans", f'{{"grid_sizes":[{k}]}}', (0, 1), ("b",), "asr", lambda *_, a=a: a, 4)
            add("segtrans", f'{{"grid_sizes":[{k}]}}', (0, 1), ("b",), "miou", lambda *_: 0.3, 4)
    return pd.DataFrame(rows)


def test_best_baseline_and_asr_table():
    df = _table()
    best, asr = st.best_baseline(df)  # ds: 0.40 / 0.41 over seeds
    assert best == ("ds", "{}") and asr == pytest.approx(0.405)
    table = st.asr_table(df, get_profile("smoke", **PROFILE)).set_index("method")
    assert table.loc["segtrans", "transfer"] == pytest.approx(50.5)
    assert table.loc["mi", "seeds"] == 1 and table.loc["mi", "transfer"] == pytest.approx(25.0)
    with pytest.raises(ValueError, match="no transfer ASR"):
        st.best_baseline(df[~df["method"].isin(stg.BASELINES)])


def test_cost_table_and_efficiency_readings():
    df, p = _table(), get_profile("smoke", **PROFILE)
    cost = st.cost_table(df, get_profile("smoke", **PROFILE)).set_index("method")
    assert cost.loc["segtrans", "passes"] == 8.0 and cost.loc["ds", "seconds"] == pytest.approx(0.11)
    # ASR per second: segtrans 50.5 / 0.10 = 505, ds 40.5 / 0.11 = 368.18 -> +37.16 %
    assert cost.loc["segtrans", "vs best baseline"] == pytest.approx((505 / (40.5 / 0.11) - 1) * 100)
    assert cost.loc["ds", "vs best baseline"] == pytest.approx(0.0)
    eff = st.efficiency(df, p)
    assert eff["best"] == "ds" and eff["time_ratio"] == pytest.approx([1.1, 1.1])
    # per seed: (0.50 / 0.10) / (0.40 / 0.11) - 1 and (0.51 / 0.10) / (0.41 / 0.11) - 1
    assert eff["asr_per_second"] == pytest.approx([(5.0 / (0.40 / 0.11) - 1) * 100, (5.1 / (0.41 / 0.11) - 1) * 100])
    # ds reaches 0.405 at T=4; segtrans seed 0 goes 0.30 (t=2) -> 0.50 (t=4): t* = 2 + 0.105 / 0.2 * 2 = 3.05
    t0, t1 = 2 + 0.105 / 0.2 * 2, 2 + 0.095 / 0.2 * 2
    assert eff["iterations"] == pytest.approx([(4 / t0 - 1) * 100, (4 / t1 - 1) * 100])


def test_claims_verdicts_on_hand_made_rows():
    c = stc.claims(_table(), get_profile("smoke", **PROFILE))
    gain = c[c["id"] == "st_asr_gain"]
    # segtrans - ds per seed: +10, +10 points -> zero-width interval above 0: reproduced
    assert gain.iloc[0]["verdict"] == "reproduced" and gain.iloc[0]["our value"].startswith("10.00")
    assert "relative gain +24.7 %" in gain.iloc[0]["comment"]  # 50.5 / 40.5 - 1
    assert gain.iloc[1]["verdict"] == "not reproduced"  # zoom: 20.5 vs 40.5
    overhead = c[c["id"] == "st_no_overhead"].iloc[0]  # 0.10 / 0.10 = 1 <= 1.2
    assert overhead["verdict"] == "reproduced" and "passes ratio 1.00" in overhead["comment"]
    eff = c[c["id"] == "st_efficiency"]
    assert list(eff["verdict"]) == ["not reproduced"] * 3  # 1.1x time, +37 % ASR/s, +31 % iterations


def test_grid_size_table():
    g = st.grid_size_table(_table(), get_profile("smoke", **PROFILE)).set_index("k")
    assert list(g.index) == ["U{2,3,4} (default)", "2", "3", "4"]
    assert g.loc["4", "transfer ASR"] == pytest.approx(80.0) and g.loc["2", "transfer mIoU"] == pytest.approx(30.0)
    assert g.loc["U{2,3,4} (default)", "transfer ASR"] == pytest.approx(50.5)  # seeds 0.50 / 0.51


def test_never_reaching_the_baseline_is_minus_100_percent():
    df = _table()
    df.loc[(df["method"] == "segtrans") & (df["metric"] == "asr"), "value"] = 0.05
    assert st.efficiency(df, get_profile("smoke", **PROFILE))["iterations"] == [-100.0, -100.0]


# ----------------------------------------------------------------- smoke scale, end to end


@pytest.mark.slow
def test_study_and_notebook_at_smoke_scale(tmp_path, monkeypatch):
    import papermill
    import torch

    from segrepro.studies import load_results, run_study

    torch.set_num_threads(1)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))  # models: the shared cache
    p = get_profile("smoke")
    df = run_study(p, "segtrans", progress=False)  # with the TranSegPGD rows it reads
    assert set(stg.shared(p)) <= set(load_results(p, "transegpgd")["method"])  # the extra step made the baselines
    assert {"segtrans", "segtrans_zoom", "bim", *stg.shared(p)} <= set(df["method"])
    assert len(stc.claims(df, p)) == 6
    out = tmp_path / "03.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False)
    assert "st_efficiency" in out.read_text()
