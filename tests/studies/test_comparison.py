"""The comparison study: its grid for every profile, tables and the gathered claims on hand-made rows,
and (slow) a smoke run with the notebook."""
from pathlib import Path

import pandas as pd
import pytest

from segrepro.attacks.methods import get_method
from segrepro.run import get_profile
from segrepro.studies import Study, all_claims
from segrepro.studies.comparison import claims as cc
from segrepro.studies.comparison import grids as cg
from segrepro.studies.comparison import report as cmp
from _transfer_world import World

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_comparison.ipynb"


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grid_is_well_formed(name):
    p = get_profile(name)
    (g,) = cg.grids(p)
    assert g.study == "comparison" and g.grid == "transfer" and g.preset == p.presets[0]
    assert [m.name for m in g.methods] == ["rp_pgd", "ds+transegpgd", "segtrans+mi", "ds+mi"]
    for m in g.methods:  # every combination is defined in the engine and accepts its parameters
        get_method(m.name).resolve(dict(m.params))
    assert g.eps == (p.eps[0],) and g.sources == tuple(p.sources[:2]) and g.steps == p.steps
    assert g.seeds == (p.seeds[:1] if name == "embedded" else p.seeds)


def test_rp_pgd_does_not_compose_with_input_transforms():
    with pytest.raises(ValueError, match="per-pixel state"):
        get_method("ds+rp_pgd")


PROFILE = dict(sources=("a", "b"), targets=("a", "b"), steps=4, snapshots=(4,), seeds=(0, 1), eps=(0.03,))


@pytest.fixture
def profile(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    return get_profile("smoke", **PROFILE)


def _table(p):
    """Hand-made counts: transfer mIoU level ``q`` per method (white-box 0.05), one or two seeds."""
    w = World(p)
    for method, q, seeds, study, seconds in (("ds", 0.20, (0, 1), "transegpgd", 0.2), ("pgd", 0.40, (0, 1), "transegpgd", 0.1),
                                             ("rp_pgd", 0.50, (0,), "comparison", 0.12), ("mi", 0.30, (0,), "transegpgd", 0.1),
                                             ("ds+mi", 0.15, (0,), "comparison", 0.3)):
        for src in p.sources:
            for seed in seeds:
                w.cell(study, "transfer", (method, "{}"), src, eps=0.03, seed=seed, seconds=seconds,
                       q=lambda t, it, q=q, src=src: 0.05 if t == src else q)
    return w.df()


def test_grid_table_orders_by_transfer_with_intervals_over_images(profile):
    t = cmp.grid_table(_table(profile), profile)
    assert list(t["method"]) == ["ds+mi", "ds", "mi", "pgd", "rp_pgd"]
    ds = t.set_index("method").loc["ds"]
    assert ds["transfer mIoU (mean)"] == pytest.approx(20.0 * 100 / (200 - 20), rel=0.15)  # IoU = q / (2 - q)
    low, high = (float(x) for x in ds["transfer mIoU"].split("[")[1].rstrip("]").split(","))
    assert low < ds["transfer mIoU (mean)"] < high and high - low < 5  # 32 images: a narrow interval
    assert ds["seeds"] == 2 and ds["images"] == 32 and ds["white-box mIoU"] < 5
    assert ds["family"] == "paper method: DS (Gu et al.)" and ds["passes / example"] == 8.0
    assert ds["s / example"] == pytest.approx(0.2)
    assert t.set_index("method").loc["rp_pgd", "seeds"] == 1
    assert t.set_index("method").loc["ds+mi", "family"] == "new combination (ours)"


def test_combos_table_compares_with_the_best_part_paired_over_images(profile):
    c = cmp.combos_table(_table(profile), profile)
    assert list(c["combination"]) == ["ds+mi"]  # the other combinations have no rows
    row = c.iloc[0]
    assert row["best part"] == "ds" and row["part 2"].startswith("mi ") and row["images"] == 32
    value, interval = row["combination - best part (mIoU points)"].split(" [")
    low, high = (float(x) for x in interval.rstrip("]").split(","))
    assert float(value) < 0 and high < 0  # the combination transfers better on every resample


def test_headline_has_every_key_even_without_rows(profile):
    h = cmp.headline(_table(profile), profile)
    assert h["cmp_best_method"] == "ds+mi" and h["cmp_best_miou"] < 10
    assert h["cmp_cheapest"] in ("pgd", "mi") and h["cmp_segtrans_miou"] != h["cmp_segtrans_miou"]  # NaN: absent
    assert h["cmp_n_claims"] == 0 and h["cmp_n_reproduced"] == 0  # no claims given
    sentences = cmp.headline_sentences(_table(profile), profile, pd.DataFrame(columns=["paper", "part", "outcome"]))
    assert "nan" not in " ".join(sentences).lower() and "SegTrans" not in sentences[1]


def _broken(df, profile):
    raise ModuleNotFoundError("no claims here")


def _one_claim(df, profile):
    from segrepro.report.outcomes import Estimate
    from segrepro.report.verdicts import PROJECT, Claim, claim_rows, table

    claim = Claim("ds_x", "ds", "DS beats FS", quantity="DS minus FS", unit="mIoU points", direction="lower")
    target = Claim("t_x", PROJECT, "AT keeps 70 %", quantity="share", unit="fraction", direction="higher",
                   threshold=0.7)
    return table([*claim_rows(claim, summary=Estimate(-3.0, -4.0, -2.0, 64, 2), study="one"),
                  *claim_rows(target, summary=Estimate(0.9, 0.85, 0.95, 64), study="one")])


def test_all_claims_gathers_every_study_and_reports_a_failing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    ghost = Study(name="ghost", title="a study whose claims fail", notebook="09_ghost", claims=_broken)
    one = Study(name="one", title="one claim", notebook="09_one", claims=_one_claim)
    with pytest.warns(UserWarning, match="ghost"):
        claims = all_claims(get_profile("smoke"), (one, ghost))
    assert claims.loc[claims["study"] == "ghost", "outcome"].tolist() == ["not testable here"]
    summary = cc.outcome_summary(claims)
    assert summary.loc["all papers", "reproduced"] == 1
    assert summary.loc["project targets (not paper claims)", "reproduced"] == 1
    counts = cc.outcome_counts(claims)
    assert counts["cmp_n_claims"] == 2 and counts["cmp_n_targets"] == 1 and counts["cmp_n_reproduced"] == 1


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
    t = cmp.grid_table(df, p)
    assert {"ds", "transegpgd", "segtrans", "rp_pgd"} <= set(t["method"])
    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False)
    assert "ds+transegpgd" in out.read_text()


def test_key_figure_draws_the_parts_of_ds_table1_with_intervals():
    from segrepro.report.outcomes import Estimate
    from segrepro.report.verdicts import Claim, Part, claim_rows, table

    claim = Claim(cmp.KEY_CLAIM, "ds", "DS beats FS on every pair", quantity="DS minus FS", unit="mIoU points",
                  direction="lower")
    parts = [Part("a -> b", Estimate(-3.0, -4.0, -2.0, 64, 2)), Part("b -> a", Estimate(-1.0, -2.5, 0.5, 64, 2))]
    claims = table(claim_rows(claim, parts, summary=Estimate(-2.0, -3.0, -1.0, 64, 2), study="dynamic_scaling"))
    fig = cmp.key_figure(claims)
    ax = fig.axes[0]
    at = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert set(at) == {"a -> b", "b -> a"} and at["a -> b"] > at["b -> a"]  # the first part on top
    assert "DS minus FS" in ax.get_xlabel()
    assert cmp.key_figure(claims[claims["claim_id"] == "other"]) is None
    assert cmp.key_figure(pd.DataFrame()) is None
