"""The comparison study: its grid for every profile, tables and the gathered claims on hand-made rows,
and (slow) a smoke run with the notebook."""
from pathlib import Path

import pandas as pd
import pytest

from segrepro.attacks.methods import get_method
from segrepro.run import get_profile
from segrepro.studies import Study, all_claims, rp_pgd
from segrepro.studies.comparison import claims as cc
from segrepro.studies.comparison import grids as cg
from segrepro.studies.comparison import report as cmp

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_comparison.ipynb"


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grid_is_well_formed(name):
    p = get_profile(name)
    (g,) = cg.grids(p)
    assert g.study == "comparison" and g.grid == "transfer" and g.preset == p.presets[0]
    assert [m.name for m in g.methods] == ["rp_pgd", "ds+transegpgd", "segtrans+mi", "ds+mi"]
    for m in g.methods:  # every combination is defined in the engine and accepts its parameters
        get_method(m.name).resolve(dict(m.params))
    assert g.eps == (max(p.eps),) and g.sources == tuple(p.sources[:2]) and g.steps == p.steps
    assert g.seeds == (p.seeds[:1] if name == "embedded" else p.seeds)


def test_rp_pgd_does_not_compose_with_input_transforms():
    with pytest.raises(ValueError, match="per-pixel state"):
        get_method("ds+rp_pgd")


def _rows(method, transfer, white, seeds=(0, 1), asr=0.5):
    rows = []
    for s in seeds:
        for src, tgt, v in (("a", "b", transfer[s]), ("b", "a", transfer[s]), ("a", "a", white), ("b", "b", white)):
            for metric, value in (("miou", v), ("asr", asr)):
                rows.append(dict(study="x", preset="shapes", grid="transfer", cell="c", source=src, target=tgt,
                                 eval_scale="1", method=method, params="{}", eps=0.06, iteration=10, seed=s,
                                 metric=metric, value=value))
    return rows


def _cost(method, seconds):
    return [dict(study="x", preset="shapes", grid="transfer", cell="c", source="a", target="a", eval_scale="1",
                 method=method, params="{}", eps=0.06, iteration=10, seed=0, metric=m, value=v)
            for m, v in (("seconds_per_example", seconds), ("forward_passes_per_example", 10.0),
                         ("backward_passes_per_example", 10.0))]


def _table():
    rows = (_rows("ds", [0.20, 0.22], 0.05) + _rows("pgd", [0.40, 0.44], 0.02) + _rows("rp_pgd", [0.50], 0.01, (0,))
            + _rows("mi", [0.30], 0.03, (0,)) + _rows("ds+mi", [0.15, 0.17], 0.04)
            + _cost("ds", 0.2) + _cost("pgd", 0.1) + _cost("rp_pgd", 0.12))
    return pd.DataFrame(rows)


def test_grid_table_orders_by_transfer():
    t = cmp.grid_table(_table())
    assert list(t["method"]) == ["ds+mi", "ds", "mi", "pgd", "rp_pgd"]
    ds = t.set_index("method").loc["ds"]
    # seeds 0/1: 20 and 22 -> mean 21, t(1) half-width 12.706 * 1 = 12.7
    assert ds["transfer mIoU"] == "21.0 [8.3, 33.7]" and ds["white-box mIoU"] == pytest.approx(5.0)
    assert ds["family"] == "paper method: DS (Gu et al.)" and ds["passes / example"] == 20.0
    assert ds["transfer ASR"] == pytest.approx(50.0) and ds["s / example"] == 0.2
    rp = t.set_index("method").loc["rp_pgd"]
    assert rp["transfer mIoU"] == "50.0" and rp["seeds"] == 1
    assert t.set_index("method").loc["ds+mi", "family"] == "new combination (ours)"


def test_combos_table_compares_with_the_best_part():
    c = cmp.combos_table(_table())
    assert list(c["combination"]) == ["ds+mi"]  # the other combinations have no rows
    row = c.iloc[0]
    assert row["best part"] == "ds" and row["part 2"] == "mi 30.0"
    assert row["combination - best part"].startswith("-5.00") and row["better than its parts"] == "reproduced"


def test_headline_has_every_key_even_without_rows():
    h = cmp.headline(_table(), get_profile("embedded"))
    assert h["cmp_best_method"] == "ds+mi" and h["cmp_best_miou"] == pytest.approx(16.0)
    assert h["cmp_cheapest"] == "pgd" and h["cmp_segtrans_miou"] != h["cmp_segtrans_miou"]  # NaN: absent
    assert h["cmp_n_not_available"] == 0 and h["cmp_missing_studies"] == "none"


def _broken(df, profile):
    raise ModuleNotFoundError("no claims here")


def _old_format_rp(df, profile):
    """The rp_pgd claims in the old verdict format (the study now returns the verdicts.md table, which
    this gather does not read yet): every rp_* id "not run", as with no results stored."""
    from segrepro import paper_values
    from segrepro.report.claims import claims_table, not_run_row

    targets = pd.DataFrame({"id": ["at_keeps_clean", "at_pgd20_gain", "at_rp_vs_pgd"], "claim": "a project target",
                            "paper_value": "-"})
    known = pd.concat([paper_values.load("claims"), targets], ignore_index=True)
    ids = [i for i in known["id"] if i.startswith(("rp_", "at_"))]
    return claims_table([not_run_row(i, "no results stored", claims=known) for i in ids])


def test_all_claims_reports_a_failing_builder(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    ghost = Study(name="ghost", title="a study whose claims fail", notebook="09_ghost", claims=_broken)
    old = Study(name="rp_pgd", title=rp_pgd.STUDY.title, notebook="04_rp_pgd", claims=_old_format_rp)
    claims = all_claims(get_profile("smoke"), (old, ghost))
    ghost = claims[claims["study"] == "ghost"].iloc[0]
    assert ghost["verdict"] == "not available" and "ModuleNotFoundError" in ghost["comment"]
    rp = claims[claims["study"] == "rp_pgd"]
    assert len(rp) == 15 and set(rp["verdict"]) == {"not run"}  # no results stored
    ds = claims[claims["id"] == "ds_table1_ds_beats_fs"].iloc[0]
    assert ds["verdict"] == "not judged" and ds["study"] == "dynamic_scaling"
    summary = cc.verdict_summary(claims)
    assert summary.loc["all"].sum() == len(claims) and summary.loc["rp_pgd", "not run"] == 15


# ----------------------------------------------------------------- smoke scale, end to end


@pytest.mark.slow
def test_study_and_notebook_at_smoke_scale(tmp_path, monkeypatch):
    import papermill
    import torch

    from segrepro.studies import run_study

    torch.set_num_threads(1)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))  # models: the shared cache
    p = get_profile("smoke")
    df = run_study(p, "comparison", progress=False)  # with the transfer rows of TranSegPGD and SegTrans
    assert {"rp_pgd", "ds+transegpgd", "segtrans+mi", "ds+mi"} <= set(df["method"])
    t = cmp.grid_table(df)
    assert {"ds", "transegpgd", "segtrans", "rp_pgd"} <= set(t["method"])
    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False)
    assert "ds+transegpgd" in out.read_text()
