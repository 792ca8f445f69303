"""The RP-PGD study: grids for every profile, tables and claims on hand-made rows, smoke run + notebook."""
import json
from pathlib import Path

import pandas as pd
import pytest

from segrepro.attacks.methods import get_method
from segrepro.run import get_profile
from segrepro.run.grid import canonical_params
from segrepro.studies.rp_pgd import claims as rc
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd import report as rt

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_rp_pgd.ipynb"


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grids_are_well_formed(name):
    p = get_profile(name)
    grids = {g.grid: g for g in rp.grids(p)}
    assert set(grids) == {"whitebox", "ablation", "blackbox"}
    for g in grids.values():
        assert g.study == "rp_pgd" and g.eps == (0.03,) and g.preset == p.presets[0]
        for m in g.methods:  # every parameter is one the engine accepts
            get_method(m.name).resolve(dict(m.params))
    wb = grids["whitebox"]
    assert [m.name for m in wb.methods] == ["pgd", "segpgd", "cospgd", "rp_pgd"]
    assert wb.all_targets == wb.sources  # white-box only
    assert len({m.params_json for m in grids["ablation"].methods}) == len(rp.ABLATIONS) == 14


def test_grid_settings_per_profile():
    emb, paper = get_profile("embedded"), get_profile("paper")
    wb = rp.grids(emb)[0]
    assert wb.snapshots == (1, 2, 3, 5, 7, 10, 20) and wb.n_images == 16 and wb.seeds == (0, 1)
    assert wb.sources == ("psp_r18", "psp_r18@PGD3-AT")
    assert rp.grids(paper)[0].snapshots == (1, 2, 3, 5, 7, 10, 20, 40, 100)
    assert rp.grids(paper)[0].n_images == 1449  # no cap outside the listed profiles
    assert rp.grids(emb)[1].seeds == (0,) and rp.grids(paper)[1].seeds == paper.seeds  # ablation seeds capped
    bb = rp.grids(emb)[2]
    assert bb.sources == ("dlv3_r18@PGD3-AT",)
    assert bb.targets == ("psp_r18", "psp_r18@PGD3-AT", "psp_r18@SegPGD3-AT", "psp_r18@CosPGD3-AT",
                          "psp_r18@RP-PGD3-AT", "psp_r18@SegPGD7-AT")
    models = rp.battery_models(emb)
    assert [m for m, full in models.items() if full] == ["psp_r18", *bb.targets[1:]]
    assert models["dlv3_r18"] is False and models["dlv3_r18@PGD3-AT"] is False
    assert [i.name for i in rp.battery(emb, full=False)] == ["Clean", "PGD"]
    assert [i.name for i in rp.battery(emb)] == ["Clean", "FGSM", "BIM", "PGD", "SegPGD", "CosPGD", "RP-PGD", "CW"]


def test_surrogate_needs_another_model():
    p = get_profile("smoke", models=("psp_r18",), sources=("psp_r18",), targets=("psp_r18",))
    with pytest.raises(ValueError, match="surrogate"):
        rp.surrogate(p)


def _row(grid, source, method, value, *, params="{}", seed=0, iteration=10, metric="miou", target=None):
    params = params if isinstance(params, str) else canonical_params(params)
    return dict(study="rp_pgd", preset="shapes", grid=grid, cell="c", source=source, target=target or source,
                eval_scale="1", method=method, params=params, eps=0.03, iteration=iteration, seed=seed,
                metric=metric, value=value)


def _ablation_rows(values: dict) -> pd.DataFrame:
    rows = [_row("ablation", "psp_r18", "rp_pgd", v, params=rp.ABLATIONS[label], seed=s)
            for label, vs in values.items() for s, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_ablation_table_next_to_the_paper():
    p = get_profile("embedded")
    df = _ablation_rows({"T": [0.10, 0.12], "T+B": [0.05, 0.05]})
    t = rt.ablation_table(df, p, "table1").set_index("variant")
    # mean 11.00; t(0.975, 1) = 12.706, sd/sqrt(2) = 1.0 -> half-width 12.71
    assert t.loc["T", "ours: psp_r18"] == "11.00 [-1.71, 23.71]"
    assert t.loc["T+B", "ours: psp_r18"] == "5.00 [5.00, 5.00]"
    assert t.loc["T+F", "ours: psp_r18"] == "-"
    assert t.loc["T", "paper: PSPNet (standard)"] == 2.65 and t.loc["T+B+F+Proto", "paper: PSPNet (standard)"] == 0.48
    t2 = rt.ablation_table(df, p, "table2").set_index("variant")
    assert t2.loc["T+B+F", "paper: PSPNet (standard)"] == 0.61  # Eq. 4 row
    t3 = rt.ablation_table(df, p, "table3").set_index("variant")
    assert t3.loc["Proto (T+F)", "paper: PSPNet (standard)"] == 18.40
    with pytest.raises(ValueError, match="which must be one of"):
        rt.ablation_table(df, p, "table9")


def test_ablation_claims():
    p = get_profile("embedded")
    full = {"T": [0.30, 0.32], "T+B": [0.20, 0.21], "T+F": [0.31, 0.33], "T+B+F": [0.19, 0.20],
            "Proto (T)": [0.50, 0.52], "T+B+F+Proto": [0.10, 0.11],
            "fixed 0.4/0.3/0.3": [0.25, 0.26], "fixed 0.4/0.4/0.2": [0.27, 0.28],
            "fixed 0.6/0.2/0.2": [0.15, 0.30], "fixed 0.2/0.6/0.2": [0.40, 0.41],
            "Proto (T+B)": [0.60, 0.61], "Proto (T+F)": [0.45, 0.47], "Proto (T+B+F)": [0.70, 0.71]}
    got = rc.check_ablations(_ablation_rows(full), p)
    assert got["rp_table1_full_best"][0].verdict == "reproduced"  # 10-11 below every other group, both seeds
    assert got["rp_table1_boundary_helps"][0].verdict == "reproduced"
    # Eq. 4 (0.19, 0.20) vs fixed 0.6/0.2/0.2 (0.15, 0.30): differences +4 and -10 -> mean -3, wide interval
    v, text = got["rp_table2_eq4_best"]
    assert v.verdict == "partly" and v.mean == pytest.approx(-3.0)
    assert "4/4 comparisons hold; worst: psp_r18: T+B+F vs fixed 0.6/0.2/0.2" in text
    assert got["rp_table2_b_over_f"][0].verdict == "not reproduced"  # 0.4/0.4/0.2 is 2 points higher
    v, text = got["rp_table3_t_only"]  # T (0.50) is above T+F (0.45): the worst part is not reproduced
    assert v.verdict == "not reproduced" and "2/3 comparisons hold; worst: psp_r18: Proto (T) vs Proto (T+F)" in text


def _battery(model, clean, pgd20, extra=()):
    rows = [_row("at_battery", model, "Clean", clean, iteration=0),
            _row("at_battery", model, "PGD", pgd20, iteration=20),
            _row("at_battery", model, "PGD", pgd20 + 0.05, iteration=10)]
    rows += [_row("at_battery", model, name, v, iteration=10) for name, v in extra]
    return rows


def test_at_tables_and_claims():
    p = get_profile("embedded", at_models=("psp_r18@PGD3-AT", "psp_r18@SegPGD3-AT", "psp_r18@RP-PGD3-AT"))
    rows = (_battery("psp_r18", 0.80, 0.05, [("SegPGD", 0.02)])
            + _battery("psp_r18@PGD3-AT", 0.70, 0.30, [("SegPGD", 0.25)])
            + _battery("psp_r18@SegPGD3-AT", 0.60, 0.20, [("SegPGD", 0.28)])
            + _battery("psp_r18@RP-PGD3-AT", 0.72, 0.35, [("SegPGD", 0.26)]))
    df = pd.DataFrame(rows)
    t = rt.at_table(df, "psp_r18")
    assert list(t.index) == ["Standard", "PGD3-AT", "SegPGD3-AT", "RP-PGD3-AT"]
    assert list(t.columns) == ["Clean", "PGD20", "PGD10", "SegPGD10"]
    assert t.loc["RP-PGD3-AT", "PGD10"] == pytest.approx(40.0)
    side = rt.at_side_by_side(df, p, "psp_r18")
    assert side.loc[("PGD3-AT", "paper"), "PGD20"] == 17.34
    assert side.loc[("PGD3-AT", "ours"), "PGD20"] == pytest.approx(30.0)
    got = rc.check_at(df, p)
    # PGD20 (the longest PGD): RP 35 vs PGD3 30 and SegPGD3 20 -> higher, one value each: partly
    assert got["rp_at_pgd100"][0].verdict == "partly" and "PGD20" in got["rp_at_pgd100"][1]
    # RP-PGD3-AT is most robust on PGD20 and PGD10, not on SegPGD10 (SegPGD3-AT 28): 2 of 3 wins
    assert got["rp_at_battery"][0].mean == pytest.approx(2 / 3)
    # clean kept: 70/80 = 87.5 %, 60/80 = 75 %, 72/80 = 90 %: mean 84.2, sd 7.64, t(2) half-width 19.0 -> the
    # interval reaches below 70 %: partly
    keep = got["at_keeps_clean"][0]
    assert keep.mean == pytest.approx((87.5 + 75 + 90) / 3) and keep.verdict == "partly"
    gain = got["at_pgd20_gain"][0]  # PGD20 gains 25, 15, 30 points over the clean model's 5: same spread
    assert gain.mean == pytest.approx(70 / 3) and gain.verdict == "partly"
    assert got["at_rp_vs_pgd"][0].mean == pytest.approx((5 + 5 + 1) / 3)
    assert "rp_at3_vs_segpgd7" not in got
    targets = rt.at_targets_table(df, p).set_index("model")
    assert targets.loc["psp_r18@SegPGD3-AT", "clean of Standard (%)"] == pytest.approx(75.0)
    assert targets.loc["psp_r18@RP-PGD3-AT", "PGD20 gain (points)"] == pytest.approx(30.0)


def test_whitebox_and_blackbox_claims():
    p = get_profile("embedded")
    rows = []
    for src in ("psp_r18", "psp_r18@PGD3-AT"):
        for m, base in (("pgd", 0.40), ("segpgd", 0.35), ("cospgd", 0.38), ("rp_pgd", 0.20)):
            for t in rp.snapshots(p):
                for s in (0, 1):
                    rows.append(_row("whitebox", src, m, base - 0.001 * t + 0.01 * s, seed=s, iteration=t))
                    rows.append(_row("whitebox", src, m, 1 - base, seed=s, iteration=t, metric="mis_ratio"))
    for tgt, v in (("psp_r18", 0.1), ("psp_r18@PGD3-AT", 0.3), ("psp_r18@SegPGD3-AT", 0.32),
                   ("psp_r18@CosPGD3-AT", 0.31), ("psp_r18@RP-PGD3-AT", 0.33), ("psp_r18@SegPGD7-AT", 0.31)):
        for m in ("segpgd", "rp_pgd"):
            rows += [_row("blackbox", "dlv3_r18@PGD3-AT", m, v + 0.002 * s, seed=s, target=tgt, iteration=20)
                     for s in (0, 1)]
    df = pd.DataFrame(rows)
    v, text = rc.check_fig2(df, p)
    assert v.verdict == "reproduced" and "30/30 comparisons hold" in text  # 2 models x 3 baselines x 5 iterations
    v, _ = rc.check_convergence(df, p)
    assert v.mean == pytest.approx(20.0) and v.verdict == "reproduced"  # MisRatio 80 % vs 60 %
    v, text = rc.check_blackbox(df, p)  # RP-PGD3-AT 33 vs SegPGD3-AT 32: +1 point on both seeds
    assert v.verdict == "reproduced" and v.mean == pytest.approx(1.0) and "8/8" in text
    table = rt.blackbox_table(df, p).set_index("target")
    assert table.loc["psp_r18@RP-PGD3-AT", "paper: RP-PGD100"] == 15.10
    assert table.loc["psp_r18", "ours: SegPGD"].startswith("10.10")


def test_claims_table_lists_every_rp_claim_and_the_issue_targets():
    p = get_profile("embedded")
    table = rc.claims(pd.DataFrame([_row("false_region", "psp_r18", "pgd", v, seed=s, metric="false_restored")
                                    for s, v in enumerate((0.003, 0.004))]), p)
    ids = list(table["id"])
    assert ids[:3] == ["rp_fig2_whitebox", "rp_fast_convergence", "rp_false_region_stays"]
    assert ids[-3:] == ["at_keeps_clean", "at_pgd20_gain", "at_rp_vs_pgd"] and len(ids) == 15
    fr = table.set_index("id").loc["rp_false_region_stays"]
    # 0.3 % and 0.4 %: mean 0.35, half-width 12.706 * 0.05 = 0.64 -> interval below 1 %
    assert fr["verdict"] == "reproduced" and fr["our value"].startswith("0.35")
    assert table.set_index("id").loc["rp_fig2_whitebox", "verdict"] == "not run"


# ----------------------------------------------------------------- smoke scale, end to end


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """The study run once at smoke scale into a module-wide results folder (models: the shared cache)."""
    import torch

    from segrepro.studies import run_study

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("rp_pgd_results")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEGREPRO_RESULTS", str(folder))
    yield run_study(get_profile("smoke"), "rp_pgd", progress=False), folder
    mp.undo()


@pytest.mark.slow
def test_study_at_smoke_scale(smoke_results):
    df, _ = smoke_results
    assert set(df["grid"]) == {"whitebox", "ablation", "blackbox", "at_battery", "false_region"}
    p = get_profile("smoke")
    wb = rt.whitebox_table(df)
    assert list(wb.columns) == list(rp.snapshots(p))
    clean = df[(df["grid"] == "whitebox") & (df["method"] == "clean") & (df["metric"] == "miou")
               & (df["target"] == "psp_r18")]["value"].iloc[0]
    assert wb.loc[("psp_r18", "pgd"), rp.snapshots(p)[-1]] < clean * 100  # the attack works
    table = rc.claims(df, p)
    # smoke trains one AT model (PGD3-AT): the claims comparing AT strategies cannot be judged
    assert set(table.loc[table["verdict"] == "not run", "id"]) == {
        "rp_at_pgd100", "rp_at_battery", "rp_at3_vs_segpgd7", "rp_table6_blackbox", "at_rp_vs_pgd"}
    assert json.loads(rt.settings_table(p).set_index("setting").loc["seeds", "value"]) == [0]


@pytest.mark.slow
def test_notebook_at_smoke_scale(smoke_results, tmp_path):
    import papermill

    _, folder = smoke_results
    mp = pytest.MonkeyPatch()
    mp.setenv("SEGREPRO_RESULTS", str(folder))
    try:
        out = tmp_path / "04.ipynb"
        papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                                   progress_bar=False)
    finally:
        mp.undo()
    text = out.read_text()
    assert "rp_table1_full_best" in text and "at_pgd20_gain" in text
