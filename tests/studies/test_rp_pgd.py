"""The RP-PGD study: grids per profile, claims on hand-made per-image counts, tables, smoke run + notebook."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segrepro.attacks.methods import get_method
from segrepro.report.verdicts import PROJECT, counts
from segrepro.run import get_profile
from segrepro.run.counts import CountStore
from segrepro.run.grid import canonical_params
from segrepro.studies.rp_pgd import claims as rc
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd import report as rt

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_rp_pgd.ipynb"
RANDOM = {"pgd", "segpgd", "cospgd", "rp_pgd"}


# ----------------------------------------------------------------- grids


@pytest.mark.parametrize("name", ["smoke", "embedded", "paper"])
def test_grids_are_well_formed(name):
    p = get_profile(name)
    grids = rp.grids(p)
    assert {g.grid for g in grids} <= {"whitebox", "battery", "ablation", "blackbox"}
    for g in grids:
        assert g.study == "rp_pgd" and g.preset == p.presets[0]
        for m in g.methods:  # every parameter is one the engine accepts
            get_method(m.name).resolve({k: v for k, v in m.params.items() if k not in ("step", "random_start")})
        if g.grid != "blackbox":  # white-box: one model per spec, so no cell is evaluated on a sibling
            assert g.all_targets == g.sources and len(g.sources) == 1
        if g.grid != "battery" or g.methods[0].name == "pgd":
            assert g.eps == (p.paper_eps,)


def test_embedded_cells_meet_the_data_floor():
    """Every cell a claim rests on: >= 64 images; random methods (random start) on >= 2 seeds."""
    p = get_profile("embedded")
    for g in rp.grids(p):
        assert g.n_images >= rc.MIN_IMAGES
        for m in g.methods:
            random = get_method(m.name).random_start if m.params.get("random_start") is None else m.params[
                "random_start"]
            assert random == (m.name in RANDOM)
            assert len(g.seeds) >= (rc.MIN_SEEDS if random else 1)


def test_embedded_grid_settings():
    p = get_profile("embedded")
    grids = rp.grids(p)
    wb = [g for g in grids if g.grid == "whitebox"]
    assert {g.sources[0] for g in wb} == {"psp_r18", "psp_r18@PGD3-AT"}
    pgd = next(g for g in wb if g.methods[0].name == "pgd")
    assert pgd.steps == 20 and pgd.snapshots == (1, 2, 3, 5, 7, 10, 20)
    strong = next(g for g in wb if g.methods[0].name != "pgd")
    assert [m.name for m in strong.methods] == ["segpgd", "cospgd", "rp_pgd"] and strong.steps == 10
    battery = [g for g in grids if g.grid == "battery"]
    assert {g.sources[0] for g in battery if g.methods[0].name == "pgd"} == {
        "psp_r18@SegPGD3-AT", "psp_r18@CosPGD3-AT", "psp_r18@RP-PGD3-AT", "psp_r18@SegPGD7-AT", "dlv3_r18",
        "dlv3_r18@PGD3-AT", "fcn8s_vgg16", "fcn8s_vgg16@PGD3-AT"}
    cw = [g for g in battery if g.methods[0].name == "cw"]
    assert len(cw) == 5 and all(g.seeds == (0,) and g.steps == 5 for g in cw)
    bim = [g for g in battery if g.methods[0].name == "bim"]
    assert all(g.eps == pytest.approx((0.01 * np.sqrt(3 * 96 * 96),)) for g in bim)
    ab = next(g for g in grids if g.grid == "ablation")
    assert ab.steps == 5 and ab.seeds == (0, 1) and len(ab.methods) == len(rp.ABLATIONS) == 13 and ab.n_images == 128
    bb = next(g for g in grids if g.grid == "blackbox")
    assert bb.sources == ("dlv3_r18@PGD3-AT",)
    assert bb.targets == ("psp_r18", "psp_r18@PGD3-AT", "psp_r18@SegPGD3-AT", "psp_r18@CosPGD3-AT",
                          "psp_r18@RP-PGD3-AT", "psp_r18@SegPGD7-AT")
    # the budget by the 2-core rule of thumb (the estimate is in the report)
    assert all(g.n_images == (256 if g.sources[0] in rp.at_variants(p) else 64) for g in battery)
    assert rp.cost(p)[["attack_s", "eval_s"]].to_numpy().sum() / 60 < 7.0  # 128 ablation, 256 battery images: 6.3
    assert rp.cost(p.with_overrides(rp_other_archs=False))[["attack_s", "eval_s"]].to_numpy().sum() / 60 < 6.0


def test_released_reading_reuses_figure_2s_run():
    p = get_profile("embedded", rp_ablation_steps=10)  # equal to the Fig. 2 run: T+B+F is that cell
    assert rp.RELEASED not in rp.ablation_labels(p)
    assert rp.ABLATIONS[rp.RELEASED] == {}  # the default parameters: prototype_grad=False
    assert all(rp.ABLATIONS[k].get("prototype_grad") is True for k in (*rp.TABLE3, "T+B+F+Proto"))


def test_surrogate_needs_another_model():
    p = get_profile("smoke", models=("psp_r18",), sources=("psp_r18",), targets=("psp_r18",))
    with pytest.raises(ValueError, match="surrogate"):
        rp.surrogate(p)


# ----------------------------------------------------------------- hand-made per-image counts


def _counts(q: np.ndarray) -> dict:
    """Per-image counts of two classes, 100 label pixels each, with ``q * 100`` of each predicted right."""
    n = len(q)
    inter = np.repeat((q * 100).round().astype(np.int64)[:, None], 2, axis=1)
    area = np.full((n, 2), 100, dtype=np.int64)
    correct = inter.sum(1)
    return {"inter": inter, "pred_area": area, "label_area": area, "valid": np.full(n, 200),
            "correct": correct, "clean_correct": np.full(n, 200), "flipped": 200 - correct}


class Fake:
    """Rows and counts files of hand-made cells in a temporary results folder."""

    def __init__(self, profile):
        self.profile, self.rows = profile, []
        self.store = CountStore(Path(__import__("os").environ["SEGREPRO_RESULTS"]) / profile.name / "counts" / "rp_pgd")

    def cell(self, grid, source, method, q_by_t: dict, *, target=None, params="{}", seed=0, eps=None):
        target = target or source
        params = params if isinstance(params, str) else canonical_params(params)
        key = f"c{len(self.rows)}"
        clean = _counts(np.full(len(next(iter(q_by_t.values()))), 0.9))
        self.store.save(key, {(target, "1", 0): clean, **{(target, "1", t): _counts(q) for t, q in q_by_t.items()}})
        for t in q_by_t:
            self.rows.append(dict(study="rp_pgd", preset="shapes", grid=grid, cell=key, source=source, target=target,
                                  eval_scale="1", method=method, params=params, eps=eps or self.profile.paper_eps,
                                  iteration=t, seed=seed, metric="miou", value=0.0))
        return key

    def clean(self, model, q):
        key = f"clean-{model}"
        self.store.save(key, {(model, "1", 0): _counts(q)})
        self.rows.append(dict(study="rp_pgd", preset="shapes", grid="whitebox", cell=key, source="-", target=model,
                              eval_scale="1", method="clean", params="{}", eps=0.0, iteration=0, seed=0,
                              metric="miou", value=0.0))

    @property
    def df(self):
        return pd.DataFrame(self.rows)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    return Fake(get_profile("smoke", rp_images=64, seeds=(0, 1), rp_seeds=None))


def _claim(table, cid):
    return table[(table["claim_id"] == cid) & (table["part"] == "")].iloc[0]


def test_ablation_claim_reproduced_when_clearly_lower(fake):
    rng = np.random.default_rng(0)
    t = rp.ablation_steps(fake.profile)
    for seed in (0, 1):
        fake.cell("ablation", "psp_r18", "rp_pgd", {t: np.clip(0.2 + rng.normal(0, 0.05, 64), 0, 1)},
                  params=rp.ABLATIONS["fixed 0.4/0.4/0.2"], seed=seed)
        fake.cell("ablation", "psp_r18", "rp_pgd", {t: np.clip(0.5 + rng.normal(0, 0.05, 64), 0, 1)},
                  params=rp.ABLATIONS["fixed 0.4/0.3/0.3"], seed=seed)
    table = rc.claims(fake.df, fake.profile)
    row = _claim(table, "rp_table2_b_over_f")
    assert row["outcome"] == "reproduced" and row["value"] < -20 and row["high"] < 0
    assert (row["n_images"], row["n_seeds"]) == (64, 2)
    assert "Below the data floor" not in row["why"]
    # the other ablation claims have no cells here: not testable, with the reason
    assert _claim(table, "rp_table3_t_only")["outcome"] == "not testable here"
    assert "not measured" in _claim(table, "rp_table3_t_only")["why"]


def test_ablation_claim_inconclusive_on_noise(fake):
    t = rp.ablation_steps(fake.profile)
    wiggle = np.where(np.arange(64) % 2, 0.05, -0.05)
    fake.cell("ablation", "psp_r18", "rp_pgd", {t: 0.4 + wiggle}, params=rp.ABLATIONS["fixed 0.4/0.4/0.2"])
    fake.cell("ablation", "psp_r18", "rp_pgd", {t: 0.4 - wiggle}, params=rp.ABLATIONS["fixed 0.4/0.3/0.3"])
    row = _claim(rc.claims(fake.df, fake.profile), "rp_table2_b_over_f")
    assert row["outcome"] == "inconclusive" and row["low"] < 0 < row["high"]
    assert "Below the data floor (64 images x 1 seed(s)" in row["why"]  # a random method on one seed


def _at_profile(fake):
    return fake.profile.with_overrides(at_models=("psp_r18@PGD3-AT", "psp_r18@SegPGD3-AT", "psp_r18@CosPGD3-AT",
                                                  "psp_r18@RP-PGD3-AT"), rp_battery_pgd_steps=(2, 4),
                                       rp_battery_cw_steps=0, rp_battery_bim_steps=0)


def test_at_claims_say_one_model_per_strategy(fake):
    p = fake.profile = _at_profile(fake)
    rng = np.random.default_rng(1)
    base = np.clip(0.3 + rng.normal(0, 0.1, 64), 0, 1)
    level = {"psp_r18": 0.02, "psp_r18@PGD3-AT": 0.20, "psp_r18@SegPGD3-AT": 0.21, "psp_r18@CosPGD3-AT": 0.19,
             "psp_r18@RP-PGD3-AT": 0.215}
    for model, lv in level.items():
        fake.clean(model, np.linspace(0.75, 0.85, 64) if "@" in model else np.linspace(0.85, 0.95, 64))
        for seed in (0, 1):
            grid = "whitebox" if model in rp.whitebox_sources(p) else "battery"
            fake.cell(grid, model, "pgd", {2: np.clip(base + lv + 0.05, 0, 1), 4: np.clip(base + lv, 0, 1)},
                      seed=seed)
    table = rc.claims(fake.df, p)
    row = _claim(table, "rp_at_pgd100")
    assert row["value"] > 0 and "One trained model per AT strategy" in row["why"]
    assert "within the run-to-run spread" in row["why"]  # about 1.5 points of difference
    assert "PGD2" in row["why"]  # the second scale (the shorter PGD)
    assert len(table[(table["claim_id"] == "rp_at_pgd100") & (table["part"] != "")]) == 3
    # battery: RP-PGD3-AT is the most robust in both PGD columns; one part per other 3-step model, each the
    # mean gap over the columns (levels RP 0.215, PGD 0.20, SegPGD 0.21, CosPGD 0.19: about +1.5 points on average;
    # mIoU pools counts, so the gaps are near, not equal to, the level differences)
    battery = _claim(table, "rp_at_battery")
    assert 1.0 < battery["value"] < 2.0 and "most robust in 2 of 2 columns" in battery["why"]
    parts = table[(table["claim_id"] == "rp_at_battery") & (table["part"] != "")].set_index("part")["value"]
    assert len(parts) == 3 and parts.index.str.endswith("mean over 2 columns").all()
    by_model = {name.split(" - ")[1].split(",")[0]: v for name, v in parts.items()}
    assert 0 < by_model["SegPGD3-AT"] < by_model["PGD3-AT"] < by_model["CosPGD3-AT"]
    assert battery["value"] == pytest.approx(np.mean(list(by_model.values())))
    # the project's targets are apart
    targets = table[table["paper"] == PROJECT]
    assert set(targets["claim_id"]) == set(rc.PROJECT_TARGETS)
    keep = _claim(table, "at_keeps_clean")
    assert 0.7 < keep["low"] < keep["value"] < keep["high"] < 1 and keep["outcome"] == "reproduced"
    gain = _claim(table, "at_pgd20_gain")
    assert gain["threshold"] == 10.0 and gain["outcome"] in ("reproduced", "contradicted", "inconclusive")
    assert PROJECT in counts(table).index and "rppgd" in counts(table).index


def test_fig2_claim_parts_and_summary(fake):
    p = fake.profile
    snaps = [t for t in rp.snapshots(p) if t >= 3]
    for src in rp.whitebox_sources(p):
        for m, q in (("pgd", 0.30), ("segpgd", 0.28), ("cospgd", 0.29), ("rp_pgd", 0.20)):
            grid_t = {t: np.full(64, q) + np.linspace(-0.05, 0.05, 64) for t in rp.pgd_snapshots(p, True)} \
                if m == "pgd" else {t: np.full(64, q) + np.linspace(-0.05, 0.05, 64) for t in rp.snapshots(p)}
            fake.cell("whitebox", src, m, grid_t)
    table = rc.claims(fake.df, p)
    row = _claim(table, "rp_fig2_whitebox")
    parts = table[(table["claim_id"] == "rp_fig2_whitebox") & (table["part"] != "")]
    assert len(parts) == len(rp.whitebox_sources(p)) * 3 * len(snaps)
    assert row["outcome"] == "reproduced" and row["value"] == pytest.approx(parts["value"].mean(), abs=1e-9)
    assert f"{len(parts)} of {len(parts)} parts" in row["why"]


# ----------------------------------------------------------------- tables


def test_whitebox_table_is_the_figures_data():
    """Regression: the table averaged the white-box cell with the transfer cell to the sibling model."""
    import matplotlib

    matplotlib.use("Agg")
    p = get_profile("smoke")
    rows = []
    for src, other in (("psp_r18", "psp_r18@PGD3-AT"), ("psp_r18@PGD3-AT", "psp_r18")):
        for m, v in (("pgd", 0.10), ("segpgd", 0.12), ("cospgd", 0.11), ("rp_pgd", 0.13)):
            for t in rp.snapshots(p):
                for seed in (0, 1):
                    base = dict(study="rp_pgd", preset="shapes", grid="whitebox", cell=f"{src}{m}{seed}", source=src,
                                eval_scale="1", method=m, params="{}", eps=0.03, iteration=t, seed=seed)
                    for metric in ("miou", "mis_ratio"):
                        rows.append({**base, "target": src, "metric": metric, "value": v + 0.01 * seed - 0.001 * t})
                        rows.append({**base, "target": other, "metric": metric, "value": 0.5})  # transfer
    df = pd.DataFrame(rows)
    table = rt.whitebox_table(df)
    assert table.loc[("psp_r18", "pgd"), 4] == pytest.approx(100 * (0.105 - 0.004))
    fig = rt.whitebox_figure(df, p)
    for ax, src in zip(fig.axes[:2], rp.whitebox_sources(p)):
        for line in ax.get_lines():
            method = line.get_label().split(":")[0]
            if method in rp.FIG2_METHODS:
                assert list(line.get_ydata()) == pytest.approx(table.loc[(src, method)].dropna().tolist())


def test_claim_glue_is_floats_and_strings(fake):
    t = rp.ablation_steps(fake.profile)
    fake.cell("ablation", "psp_r18", "rp_pgd", {t: np.linspace(0.1, 0.3, 64)}, params=rp.ABLATIONS["fixed 0.4/0.4/0.2"])
    fake.cell("ablation", "psp_r18", "rp_pgd", {t: np.linspace(0.3, 0.5, 64)}, params=rp.ABLATIONS["fixed 0.4/0.3/0.3"])
    glue = rt.claim_glue(rc.claims(fake.df, fake.profile))
    assert {type(v) for v in glue.values()} <= {float, str}
    assert glue["rp_table2_b_over_f_outcome"] == "reproduced" and glue["rp_table2_b_over_f_ci"].startswith("[")
    assert f"{glue['rp_table2_b_over_f_value']:.2f}"  # formats as a number
    assert glue["rp_at_pgd100_outcome"] == "not testable here" and glue["rp_at_pgd100_ci"] == "not measured"


def test_claims_cover_every_rp_claim_and_keep_targets_apart(fake):
    from segrepro import paper_values

    table = rc.claims(pd.DataFrame(columns=["grid", "source", "target", "metric", "iteration", "cell", "seed",
                                            "method", "params", "eps", "eval_scale"]), fake.profile)
    ids = [i for i in paper_values.load("claims")["id"] if i.startswith("rp_")]
    claims = table[table["part"] == ""]
    assert list(claims["claim_id"]) == [*ids, *rc.PROJECT_TARGETS]
    assert set(claims.loc[claims["paper"] == PROJECT, "claim_id"]) == set(rc.PROJECT_TARGETS)
    assert set(claims["outcome"]) == {"not testable here"}  # nothing measured: no sentinel numbers
    assert claims["value"].isna().all()
    for spec in [*rc.SPECS.values(), *(s for _, s in rc.PROJECT_TARGETS.values())]:
        if spec.get("threshold", 0) != 0:  # a threshold that is not 0 says where it comes from
            assert spec["threshold_note"]


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
    try:
        yield run_study(get_profile("smoke"), "rp_pgd", progress=False), folder
    finally:
        mp.undo()


@pytest.mark.slow
def test_study_at_smoke_scale(smoke_results):
    df, folder = smoke_results
    assert set(df["grid"]) == {"whitebox", "battery", "ablation", "blackbox", "false_region", "grad_balance"}
    p = get_profile("smoke")
    wb = rt.whitebox_table(df)
    clean = df[(df["method"] == "clean") & (df["metric"] == "miou") & (df["target"] == "psp_r18")]["value"].iloc[0]
    assert wb.loc[("psp_r18", "pgd"), rp.pgd_steps(p)] < clean * 100  # the attack works
    mp = pytest.MonkeyPatch()
    mp.setenv("SEGREPRO_RESULTS", str(folder))
    try:
        table = rc.claims(df, p)
        balance = rt.prototype_grad_table(df, p)
    finally:
        mp.undo()
    claims = table[table["part"] == ""].set_index("claim_id")
    # smoke trains one AT model (PGD3-AT): the claims comparing AT strategies cannot be judged
    assert set(claims.index[claims["outcome"] == "not testable here"]) == {
        "rp_at_pgd100", "rp_at_battery", "rp_at3_vs_segpgd7", "rp_table6_blackbox", "at_rp_vs_pgd"}
    measured = claims[claims["outcome"] != "not testable here"]
    assert measured["value"].notna().all() and (measured["why"].str.len() > 20).all()
    assert balance.loc[0, "||g_P|| / ||g_R||"] != "-"
    # every value the notebook's prose glues exists, as a Python float or str (numpy scalars do not format)
    import json
    import re

    cells = json.loads(NOTEBOOK.read_text())["cells"]
    refs = {k for c in cells if c["cell_type"] == "markdown"
            for k in re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)", "".join(c["source"]))}
    glue = {**rt.headline(df, p), **rt.claim_glue(table)}
    assert refs and refs <= set(glue)
    assert {type(v) for v in glue.values()} <= {float, str}


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
    for word in ("partly", "not reproduced"):
        assert word not in text


def test_clean_counts_ignore_the_ablations_larger_sample(fake):
    """The ablations attack more images (``rp_ablation_images``): their clean rows are another sample, and
    stacking them with the 64-image clean rows once failed the whole study."""
    from segrepro.studies.rp_pgd.arms import Arms

    fake.clean("psp_r18", np.full(64, 0.8))
    fake.store.save("clean-ablation", {("psp_r18", "1", 0): _counts(np.full(128, 0.7))})
    fake.rows.append({**fake.rows[-1], "grid": "ablation", "cell": "clean-ablation"})
    arm = Arms(fake.df, fake.profile).clean("psp_r18")
    assert arm.n_images == 64 and arm.miou()[0] == pytest.approx(0.8 / 1.2)  # IoU = 80 / (100 + 100 - 80)
