"""The TranSegPGD study: grids for every profile, the start policy, claims on hand-made counts, smoke run."""
import math
import numbers
from pathlib import Path
from types import SimpleNamespace

import pytest

from segrepro.paths import results_dir
from segrepro.report import transfer as tt
from segrepro.run import get_profile
from segrepro.run.counts import CountStore
from segrepro.studies import get_study
from segrepro.studies.transegpgd import claims as tsc
from segrepro.studies.transegpgd import grids as tsp
from segrepro.studies.transegpgd import report as tsr
from segrepro.studies.transegpgd.measure import Measure, claim_glue

from _transfer_world import World

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_transegpgd.ipynb"
TRANSFER = {("bim", "{}"), ("segpgd", '{"random_start":false}'), ("cospgd", '{"random_start":false}'), ("ds", "{}"),
            ("mi", "{}"), ("transegpgd", "{}"), ("transegpgd+mi", "{}")}


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grids_are_well_formed_for_every_profile(name):
    p = get_profile(name)
    grids = get_study("transegpgd").grids(p)
    assert {g.study for g in grids} == {"transegpgd"} and {g.preset for g in grids} == {p.presets[0]}
    main = [g for g in grids if g.grid == tsp.MAIN]
    assert {(m.name, m.params_json) for g in main for m in g.methods} == TRANSFER
    for g in grids:
        assert g.steps == p.steps and g.n_images == tsp.study_images(p)
        assert g.eps == ((p.paper_eps,) if g.grid != tsp.SECOND else (max(p.eps),))
        for m in g.methods:  # one start policy: only DS (random scales) is random, and it runs every seed
            assert g.seeds == (p.seeds if m.name == "ds" else p.seeds[:1])
    assert {s for g in main for s in g.sources} == set(p.sources[:2])
    for g in main:
        assert math.ceil(p.steps / 2) in g.snapshots and g.snapshots[-1] == p.steps
    second = [g for g in grids if g.grid == tsp.SECOND]
    if len(p.eps) > 1:  # embedded: the second reading at 0.06 from the last transfer source
        assert {s for g in second for s in g.sources} == {p.sources[1]}
        assert {(m.name, m.params_json) for g in second for m in g.methods} == TRANSFER
    else:
        assert second == [] and tsp.second_eps(p) is None
    ablation = [g for g in grids if g.grid == tsp.ABLATION]
    assert {s for g in ablation for s in g.sources} == {p.sources[1]}
    keys = {c.key for g in main for c in g.cells()}
    default = [c for g in ablation for c in g.cells() if c.method.params_json == "{}"]
    assert len(default) == 1 and default[0].key in keys  # computed once, shared with the transfer grid
    params = {c.method.params_json for g in ablation for c in g.cells()}
    assert {'{"gamma":0.5}', '{"beta":0.5}', '{"stage1_favour":"wrong"}', '{"switch":"all_fooled"}'} <= params


def test_embedded_budget_asks_for_64_images_and_states_its_cost():
    p = get_profile("embedded")
    assert p.transfer_images == 64 and tsp.study_images(p.with_overrides(n_images=100)) == 64
    cells = len({c.key for g in get_study("transegpgd").grids(p.with_overrides(n_images=64)) for c in g.cells()})
    assert cells == 16 + 8 + 4  # transfer (2 sources) + eps-0.06 reading (1 source) + ablation (default shared)


def test_one_start_policy_for_every_method():
    p = get_profile("smoke")
    assert tsp.method_spec(p, "pgd").name == "bim"  # PGD without its random start is BIM
    assert dict(tsp.method_spec(p, "segpgd").params) == {"random_start": False}
    assert dict(tsp.method_spec(p, "transegpgd").params) == {} and dict(tsp.method_spec(p, "ds").params) == {}
    r = p.with_overrides(transfer_random_start=True)
    assert tsp.method_spec(r, "pgd") == tsp.method_spec(r, "pgd", **{}) and dict(tsp.method_spec(r, "pgd").params) == {}
    assert dict(tsp.method_spec(r, "transegpgd+mi").params) == {"random_start": True}
    assert not tsp.is_deterministic(tsp.method_spec(r, "transegpgd"))
    assert tsp.is_deterministic(tsp.method_spec(p, "segpgd")) and not tsp.is_deterministic(tsp.method_spec(p, "ds"))


def test_snapshots_weights_and_method_params():
    # snapshots past steps are refused when a profile is made; the filter still guards other callers
    assert tsp.snapshots(SimpleNamespace(steps=7, snapshots=(1, 20), transfer_snapshots=None)) == (1, 4, 7)
    assert tsp.snapshots(get_profile("smoke", steps=20, transfer_snapshots=(5,))) == (5, 10, 20)
    assert tsp.weights(get_profile("smoke", transfer_weights=(0.0,))) == (0.0, 0.5)
    p = get_profile("smoke", method_params={"mi": {"decay": 0.5}, "transegpgd": {"beta": 0.2}})
    assert dict(tsp.method_spec(p, "transegpgd+mi").params) == {"decay": 0.5, "beta": 0.2}
    assert dict(tsp.method_spec(p, "transegpgd", beta=0.3).params) == {"beta": 0.3}
    with pytest.raises(ValueError, match="valid"):
        tsp.shared_grids(get_profile("smoke"), ["pgd", "nope"])


def test_labels_and_determinism():
    assert tt.label("transegpgd", '{"gamma":0.3}') == "transegpgd gamma=0.3"
    assert tt.is_transform("mi") and tt.is_transform("ds") and not tt.is_transform("pgd")
    fewer = get_profile("smoke", baselines=("pgd", "mi"))
    assert tsp.methods(fewer) == ("pgd", "ds", "mi", "transegpgd", "transegpgd+mi")
    assert tsp.methods(get_profile("smoke", baselines=("pgd",))) == ("pgd", "ds", "transegpgd")


# ----------------------------------------------------------------- claims on hand-made counts

PROFILE = dict(sources=("a", "b"), targets=("a", "b", "c"), steps=4, snapshots=(2, 4), seeds=(0, 1),
               eps=(0.03, 0.06), n_images=32, transfer_weights=(0.5,))
BASE_Q = {"bim": 0.45, "segpgd": 0.45, "cospgd": 0.45, "ds": 0.45, "mi": 0.45, "transegpgd": 0.30,
          "transegpgd+mi": 0.35, "gamma": 0.40, "beta": 0.40, "stage1_favour": 0.32, "switch": 0.31}


@pytest.fixture
def profile(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    return get_profile("smoke", **PROFILE)


def world(p, q=None, *, eps2=None, noise=0.01):
    """Every cell of the study's grids with mIoU level ``q[name or changed param]`` (eps 0.06: ``eps2``)."""
    q, w, seen = {**BASE_Q, **(q or {})}, World(p), set()
    for g in tsp.grids(p):
        for c in g.cells():
            if c.key in seen:
                continue
            seen.add(c.key)
            params = {k: v for k, v in c.method.params.items() if k != "random_start"}
            name = next(iter(params)) if params else c.method.name
            table = eps2 if (eps2 and g.grid == tsp.SECOND) else q
            w.cell("transegpgd", g.grid, (c.method.name, c.method.params_json), c.source, eps=c.eps, seed=c.seed,
                   iterations=g.snapshots, q={**q, **table}[name], noise=noise)
    return w.df()


def by_part(table, cid):
    rows = table[table["claim_id"] == cid]
    return rows.iloc[0], rows.iloc[1:].set_index("part")


def test_every_claim_reproduced_when_transegpgd_is_clearly_stronger(profile):
    c = tsc.claims(world(profile), profile)
    assert list(c[c["part"] == ""]["claim_id"]) == list(tsc.CLAIMS)
    assert set(c["outcome"]) == {"reproduced"} and set(c["study"]) == {"transegpgd"}
    claim, parts = by_part(c, "tsp_state_of_the_art")
    assert list(parts.index) == ["minus PGD (BIM: no random start)", "minus SegPGD", "minus CosPGD", "minus DS"]
    assert claim["unit"] == "mIoU points" and claim["direction"] == "lower" and claim["threshold"] == 0
    # the summary is TranSegPGD minus the strongest attack: the largest of the part differences
    assert claim["value"] == pytest.approx(parts["value"].max()) and claim["value"] < -10
    assert claim["n_images"] == 32 and claim["n_seeds"] == 2  # paired with DS's two seeds
    stage1 = c[c["claim_id"] == "tsp_stage1_fools_all"].iloc[0]  # white-box MisRatio 1 - q: 0.70 vs 0.60
    assert stage1["unit"] == "MisRatio points" and stage1["value"] == pytest.approx(10, abs=1.5)


def test_one_lost_baseline_contradicts_and_the_why_counts_the_wins(profile):
    c = tsc.claims(world(profile, {"transegpgd": 0.40, "ds": 0.30}), profile)
    claim, parts = by_part(c, "tsp_state_of_the_art")
    assert list(parts["outcome"]) == ["reproduced"] * 3 + ["contradicted"]
    assert claim["outcome"] == "contradicted" and claim["value"] == pytest.approx(parts.loc["minus DS", "value"])
    assert "than 3 of 4 prior attacks; the strongest is DS" in claim["why"]


def test_equal_attacks_on_noisy_images_are_inconclusive_with_n_needed(profile):
    same = {k: 0.45 for k in BASE_Q}
    c = tsc.claims(world(profile, same, noise=0.08), profile)
    mi = c[c["claim_id"] == "tsp_combines_with_mi"].iloc[0]
    assert mi["outcome"] == "inconclusive" and mi["low"] < 0 < mi["high"]
    assert isinstance(mi["n_needed"], numbers.Integral) and mi["n_needed"] > 32


def test_second_eps_reading_in_the_why(profile):
    df = world(profile, {"transegpgd": 0.50}, eps2={"transegpgd": 0.20})  # loses at 0.03, wins at 0.06
    claim = tsc.claims(df, profile).iloc[0]
    assert claim["outcome"] == "contradicted"
    assert "Second reading from b:" in claim["why"] and "at eps 0.06 (toward the claim)" in claim["why"]


def test_missing_counts_make_a_claim_not_testable(profile):
    df = world(profile)
    ds = df[(df["method"] == "ds") & (df["seed"] == 0) & (df["grid"] == tsp.MAIN)]["cell"].iloc[0]
    CountStore(results_dir(profile.name, "counts", "transegpgd")).path(ds).unlink()
    c = tsc.claims(df, profile)
    sota = c[c["claim_id"] == "tsp_state_of_the_art"]
    assert len(sota) == 1 and sota.iloc[0]["outcome"] == "not testable here" and "not run" in sota.iloc[0]["why"]
    assert c[c["claim_id"] == "tsp_stage2_kl"].iloc[0]["outcome"] == "reproduced"


def test_measure_matches_the_counts_by_hand(profile):
    df = world(profile)
    m = Measure(profile, df)
    pairs = m.pairs(("transegpgd", "{}"), eps=0.03, sources=("a", "b"), grid=tsp.MAIN)
    assert pairs.names == ("a -> b", "a -> c", "b -> a", "b -> c")
    arm = pairs.arms[0]
    inter = arm.counts["inter"].sum(axis=(0, 1))  # one seed
    union = 2 * 50 * 32 - inter
    assert pairs.metric("miou", None)[0] == pytest.approx(float(sum(pairs.arms[i].miou()[0] for i in range(4)) / 4))
    assert arm.miou()[0] == pytest.approx(float((inter / union).mean()))


def test_tables_and_headline_are_plain_python(profile):
    df = world(profile)
    t = tsr.transfer_table(df, profile).set_index("method")
    assert t.loc["transegpgd", "transfer"] < t.loc["bim", "transfer"] and t.loc["ds", "seeds"] == 2
    assert len(tsr.eps_table(df, profile)) == len(TRANSFER) and len(tsr.combination_table(df, profile)) == 1
    assert list(tsr.ablation_table(df, profile)["variant"])[0] == "default"
    glued = {**tsr.headline(df, profile), **claim_glue(tsc.claims(df, profile))}
    assert glued and all(type(v) in (float, int, str) for v in glued.values()), \
        {k: type(v) for k, v in glued.items() if type(v) not in (float, int, str)}
    assert all(isinstance(v, numbers.Number) for k, v in glued.items() if k.endswith(("_value", "_low", "_high")))


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
    assert {k[0] for k in TRANSFER} <= set(df["method"])
    c = tsc.claims(df, p)
    assert len(c) == 8 and "not testable here" not in set(c["outcome"])
    glued = {**tsr.headline(df, p), **claim_glue(c)}
    assert all(type(v) in (float, int, str) for v in glued.values())
    out = tmp_path / "02.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False)
    assert "tsp_state_of_the_art" in out.read_text()


def test_stage1_second_scale_is_an_earlier_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    p = get_profile("smoke", **{**PROFILE, "snapshots": (1, 2, 4)})
    stage1 = tsc.claims(world(p), p).set_index("claim_id").loc["tsp_stage1_fools_all"]
    assert "Second scale (iterations):" in stage1["why"] and "at t = 1," in stage1["why"]
