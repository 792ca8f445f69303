"""DS claims on hand-made per-image counts: each claim's quantity, parts, summary, outcome and why.

Counts are made by :func:`_counts`: 4-class 6x6 label maps with a prediction that is right on a
fraction ``p`` of the pixels, so a lower ``p`` is a lower mIoU; rows carry the counts' own mIoU.
"""
import zlib

import numpy as np
import pandas as pd
import pytest
import torch

from segrepro.metrics import image_counts, metrics_from_counts
from segrepro.report.evidence import Evidence
from segrepro.report.outcomes import resample_weights
from segrepro.report.verdicts import COLUMNS
from segrepro.run import get_profile
from segrepro.run.counts import CountStore
from segrepro.run.store import COLUMNS as ROWS
from segrepro.studies.dynamic_scaling import claims as dsc
from segrepro.studies.dynamic_scaling import measures as ms
from segrepro.studies.dynamic_scaling import prose

N = 64


def _counts(p: float, key: str, n: int = N) -> dict:
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    y = torch.randint(0, 4, (n, 6, 6), generator=g)
    keep = torch.rand(n, 6, 6, generator=g) < p
    pred = torch.where(keep, y, (y + 1 + torch.randint(0, 3, (n, 6, 6), generator=g)) % 4)
    return {k: v.numpy() for k, v in image_counts(pred, y, 4).items()}


class Results:
    """A study's rows and counts folder, cell by cell."""

    def __init__(self, folder):
        self.store, self.rows = CountStore(folder), []

    def cell(self, name, *, source, method, curves, grid="transfer", seed=0, eps=0.03, preset="shapes",
             params="{}", scale="1", noise=""):
        """``curves``: target -> {iteration: p}; ``noise`` changes the random draws (another seed's)."""
        counts = {}
        for target, its in curves.items():
            for it, p in {0: 0.95, **its}.items():
                c = _counts(p, f"{target}{it}{p}{noise}" if it else f"clean{target}")
                counts[(target, scale, it)] = c
                if it:
                    self.rows.append(dict(study="dynamic_scaling", preset=preset, grid=grid, cell=name, source=source,
                                          target=target, eval_scale=scale, method=method, params=params, eps=eps,
                                          iteration=it, seed=seed, metric="miou",
                                          value=float(metrics_from_counts(c)["miou"])))
        old = self.store.load(name) if self.store.has(name) else {}
        self.store.save(name, {**old, **counts})

    def df(self):
        return pd.DataFrame(self.rows)[ROWS]

    def reader(self):
        return ms.Reader(self.df(), Evidence(self.store.folder))


def _profile(**kw):
    return get_profile("smoke", presets=("shapes",), seeds=(0, 1), steps=20, snapshots=(5, 10, 20), **kw)


def _pair(res, source, target, fs, ds, *, eps=0.03):
    """FS (one seed) at snapshots {5, 10, 20} -> ``fs`` and DS (seeds 0, 1) at 20 -> ``ds``."""
    res.cell(f"fs-{source}-{eps}", source=source, method="bim", eps=eps, curves={target: dict(zip((5, 10, 20), fs))})
    for seed in (0, 1):
        res.cell(f"ds-{source}-{seed}-{eps}", source=source, method="ds", seed=seed, eps=eps,
                 curves={target: {5: ds + 0.05, 10: ds + 0.02, 20: ds}}, noise=f"s{seed}")


def test_ds_minus_fs_takes_fs_at_its_best_snapshot_inside_every_resample(tmp_path):
    res = Results(tmp_path)
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.60, 0.55, 0.62), ds=0.40)
    r = res.reader()
    m = ms.ds_minus_fs(r, source="psp_r18", target="fcn8s_vgg16", grid="transfer", preset="shapes", eps=0.03)
    arm = lambda method, it: r.arm(target="fcn8s_vgg16", iteration=it, method=method, source="psp_r18",  # noqa: E731
                                   grid="transfer", eps=0.03)
    fs = {t: arm("bim", t) for t in (5, 10, 20)}
    w = resample_weights(N, 2, resamples=300)
    want = 100 * (arm("ds", 20).miou(w) - np.min([a.miou(w) for a in fs.values()], axis=0))
    np.testing.assert_allclose(m.stat(w), want)
    assert m.value() == pytest.approx(100 * (arm("ds", 20).miou()[0] - min(a.miou()[0] for a in fs.values())))
    # DS at 10 iterations compares with FS's best among the snapshots up to 10
    m10 = ms.ds_minus_fs(r, source="psp_r18", target="fcn8s_vgg16", ds_iteration=10, grid="transfer", preset="shapes",
                         eps=0.03)
    assert m10.value() == pytest.approx(100 * (arm("ds", 10).miou()[0] - min(fs[5].miou()[0], fs[10].miou()[0])))


def test_table1_summary_is_the_mean_gap_with_every_pair_a_part(tmp_path):
    res = Results(tmp_path)
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.70, 0.65, 0.68), ds=0.30)  # DS far lower: won
    _pair(res, "fcn8s_vgg16", "psp_r18", fs=(0.40, 0.30, 0.35), ds=0.75)  # DS far higher: lost
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile()).set_index(["claim_id", "part"])
    head = rows.loc[("ds_table1_ds_beats_fs", "")]
    a, b = rows.loc[("ds_table1_ds_beats_fs", "psp_r18 -> fcn8s_vgg16")], rows.loc[("ds_table1_ds_beats_fs", "fcn8s_vgg16 -> psp_r18")]
    assert (a["outcome"], b["outcome"], head["outcome"]) == ("reproduced", "contradicted", "contradicted")
    assert a["value"] < 0 < b["value"] and head["value"] == pytest.approx((a["value"] + b["value"]) / 2)
    assert (head["n_images"], head["n_seeds"]) == (N, 2)
    assert head["why"].startswith("DS lower on 1 of 2 pairs") and "fcn8s_vgg16 -> psp_r18" in head["why"]
    assert "Second scale: after 10 instead of 20 iterations" in head["why"]  # the horizon, for a claim that failed
    assert rows.loc[("ds_table2_ds_beats_fs", ""), "outcome"] == "not testable here"
    assert "no second dataset" in rows.loc[("ds_table2_ds_beats_fs", ""), "why"]
    assert list(dsc.claims(res.df(), counts=res.store.folder, profile=_profile()).columns) == COLUMNS


def test_second_budget_is_evidence_in_why_never_the_verdict(tmp_path):
    res = Results(tmp_path)
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.40, 0.30, 0.35), ds=0.45)  # at 0.03 DS loses
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.40, 0.30, 0.35), ds=0.10, eps=0.06)  # at 0.06 it wins
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile(eps=(0.03, 0.06)))
    head = rows[(rows.claim_id == "ds_table1_ds_beats_fs") & (rows.part == "")].iloc[0]
    assert head["outcome"] == "contradicted" and head["value"] > 0
    assert "at eps 0.06 (1 pairs from psp_r18)" in head["why"] and "DS lower on 1 of 1" in head["why"]
    assert "on the same pairs at 0.03: toward the claimed side" in head["why"]


def test_no_effect_is_inconclusive_and_identical_arms_have_no_interval(tmp_path):
    res = Results(tmp_path)
    res.cell("fs", source="psp_r18", method="bim", curves={"fcn8s_vgg16": {20: 0.5}})
    for seed in (0, 1):  # DS draws the same counts as FS: no effect at all
        res.cell(f"ds{seed}", source="psp_r18", method="ds", seed=seed, curves={"fcn8s_vgg16": {20: 0.5}})
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile()).set_index(["claim_id", "part"])
    part = rows.loc[("ds_table1_ds_beats_fs", "psp_r18 -> fcn8s_vgg16")]
    assert part["outcome"] == "inconclusive" and part["value"] == 0 and pd.isna(part["low"])
    assert part["why"] == "no variation across images"


def test_noise_gives_an_inconclusive_part_with_the_images_it_needs(tmp_path):
    res = Results(tmp_path)
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.52, 0.50, 0.51), ds=0.50)  # a fraction of a point apart
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile()).set_index(["claim_id", "part"])
    part = rows.loc[("ds_table1_ds_beats_fs", "psp_r18 -> fcn8s_vgg16")]
    assert part["low"] < 0 < part["high"] and part["outcome"] == "inconclusive" and part["n_needed"] > N


def test_overfitting_rule_is_the_same_for_a_claim_and_its_negation(tmp_path):
    """Last minus reference iteration: VGG (claimed lower) and ResNet (claimed higher) read alike."""
    falling, rising = {5: 0.5, 10: 0.4, 20: 0.3}, {5: 0.3, 10: 0.4, 20: 0.5}

    def judge(vgg_curve, resnet_curve):
        res = Results(tmp_path / f"{vgg_curve[20]}")
        res.cell("v", source="fcn8s_vgg16", method="bim", curves={"psp_r18": vgg_curve})
        res.cell("r", source="psp_r18", method="bim", curves={"fcn8s_vgg16": resnet_curve})
        return dsc.claims(res.df(), counts=res.store.folder, profile=_profile()).set_index(["claim_id", "part"])

    ok = judge(falling, rising)
    assert ok.loc[("ds_seg_vgg_no_overfit", ""), "outcome"] == "reproduced"
    assert ok.loc[("ds_seg_resnet_overfit", ""), "outcome"] == "reproduced"
    assert ok.loc[("ds_seg_vgg_no_overfit", "fcn8s_vgg16, iteration 5 -> 20"), "value"] == pytest.approx(
        -ok.loc[("ds_seg_resnet_overfit", "psp_r18, iteration 5 -> 20"), "value"], abs=3)
    swapped = judge(rising, falling)
    assert swapped.loc[("ds_seg_vgg_no_overfit", ""), "outcome"] == "contradicted"
    assert swapped.loc[("ds_seg_resnet_overfit", ""), "outcome"] == "contradicted"
    assert swapped.loc[("ds_seg_resnet_overfit", ""), "value"] < 0  # not >= 0 by construction


def test_the_long_run_judges_the_vgg_claim_and_replaces_its_shorter_prefix(tmp_path):
    res = Results(tmp_path)
    res.cell("v", source="fcn8s_vgg16", method="bim", curves={"psp_r18": {5: 0.5, 10: 0.4, 20: 0.3}})
    res.cell("vl", source="fcn8s_vgg16", method="bim", grid="long",
             curves={"psp_r18": {5: 0.5, 10: 0.4, 20: 0.3, 50: 0.65}})  # rises above iteration 5's by 50
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile(long_steps=50)).set_index(["claim_id", "part"])
    vgg = rows.loc["ds_seg_vgg_no_overfit"]
    (part,) = [p for p in vgg.index if p]  # the 20-iteration run is the long run's prefix: not a part of its own
    assert part.startswith("fcn8s_vgg16, iteration 5 -> 50 (long run, ") and part.endswith(" images)")
    assert vgg.loc[part, "outcome"] == "contradicted" and vgg.loc[part, "value"] == vgg.loc["", "value"]
    assert vgg.loc["", "outcome"] == "contradicted"
    assert "The 20-iteration run of the transfer grid (fcn8s_vgg16): -" in vgg.loc["", "why"]  # reported, in the why


def test_fig8_parts_have_their_own_rules(tmp_path):
    res = Results(tmp_path)
    res.cell("fs", source="psp_r18", method="bim", curves={"fcn8s_vgg16": {5: 0.7, 10: 0.7, 20: 0.7}})  # lambda 0
    for seed in (0, 1):
        res.cell(f"ds{seed}", source="psp_r18", method="ds", seed=seed, curves={"fcn8s_vgg16": {5: 0.4, 10: 0.3, 20: 0.3}})
        for lam, p in ((0.1, 0.5), (0.7, 0.3), (0.9, 0.3)):  # beyond 0.5: the default's very counts (flat)
            res.cell(f"l{lam}{seed}", source="psp_r18", method="ds", seed=seed, grid="lambda", params=f'{{"lam":{lam}}}',
                     curves={"fcn8s_vgg16": {20: p}}, noise="" if lam > 0.5 else f"{lam}")
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile(ds_lambdas=(0.0, 0.1, 0.5, 0.7, 0.9)))
    fig8 = rows[rows.claim_id == "ds_fig8_scale_ratio"].set_index("part")
    assert list(fig8.index) == ["", "lambda 0.1 minus 0", "lambda 0.5 minus 0.1", "lambda 0.7 minus 0.5",
                                "lambda 0.9 minus 0.5"]
    assert list(fig8["direction"]) == ["lower", "lower", "lower", "within", "within"]
    assert fig8.loc["lambda 0.9 minus 0.5", "threshold"] == dsc.FLAT_TOLERANCE
    assert fig8.loc["lambda 0.1 minus 0", "outcome"] == fig8.loc["lambda 0.5 minus 0.1", "outcome"] == "reproduced"
    assert fig8.loc["lambda 0.9 minus 0.5", "outcome"] == "reproduced" and fig8.loc["lambda 0.9 minus 0.5", "value"] == 0
    assert fig8.loc["", "value"] < 0 and fig8.loc["", "outcome"] == "reproduced"


def test_fig8_flatness_fails_when_a_large_ratio_moves(tmp_path):
    res = Results(tmp_path)
    res.cell("fs", source="psp_r18", method="bim", curves={"fcn8s_vgg16": {5: 0.7, 10: 0.7, 20: 0.7}})
    for seed in (0, 1):
        res.cell(f"ds{seed}", source="psp_r18", method="ds", seed=seed, curves={"fcn8s_vgg16": {5: 0.4, 10: 0.3, 20: 0.3}})
        for lam, p in ((0.1, 0.5), (0.9, 0.6)):
            res.cell(f"l{lam}{seed}", source="psp_r18", method="ds", seed=seed, grid="lambda", params=f'{{"lam":{lam}}}',
                     curves={"fcn8s_vgg16": {20: p}})
    fig8 = dsc.claims(res.df(), counts=res.store.folder, profile=_profile(ds_lambdas=(0.0, 0.1, 0.5, 0.9))).query("claim_id == 'ds_fig8_scale_ratio'")
    assert fig8.set_index("part").loc["lambda 0.9 minus 0.5", "outcome"] == "contradicted"
    assert fig8.iloc[0]["outcome"] == "contradicted"


def test_scale_claims(tmp_path):
    res = Results(tmp_path)
    for src in ("fcn8s_vgg16", "psp_r18"):
        for scale, fs, dsv in (("0.5", 0.8, 0.3), ("0.75", 0.6, 0.2), ("1", 0.2, 0.2), ("ms", 0.5, 0.2)):
            res.cell(f"fs{src}", source=src, method="bim", grid="scales", scale=scale, curves={src: {20: fs}})
            for seed in (0, 1):
                res.cell(f"ds{src}{seed}", source=src, method="ds", grid="scales", scale=scale, seed=seed,
                         curves={src: {20: dsv}}, noise=f"{seed}")
    rows = dsc.claims(res.df(), counts=res.store.folder, profile=_profile()).set_index(["claim_id", "part"])
    assert rows.loc[("ds_table4_multiscale", ""), "outcome"] == "reproduced"
    assert rows.loc[("ds_table4_multiscale", "psp_r18 at multi-scale"), "value"] < 0
    gap = rows.loc[("ds_table4_fs_scale_gap", "")]
    assert gap["outcome"] == "reproduced" and gap["threshold"] == 0 and gap["n_seeds"] == 1
    assert "fcn8s_vgg16" in gap["why"] and "vs" in gap["why"]


def _cls_cell(store, rows, source, target, curve, name):
    counts = {}
    for it, acc in curve.items():
        g = torch.Generator().manual_seed(zlib.crc32(f"{name}{target}{it}".encode()))
        y = torch.randint(0, 3, (256,), generator=g)
        pred = torch.where(torch.rand(256, generator=g) < acc, y, (y + 1) % 3)
        counts[(target, "1", it)] = {k: v.numpy() for k, v in image_counts(pred.view(-1, 1, 1), y.view(-1, 1, 1), 3).items()}
        rows.append(dict(study="dynamic_scaling", preset="shapes", grid="classification", cell=name, source=source,
                         target=target, eval_scale="1", method="bim", params="{}", eps=0.03, iteration=it, seed=0,
                         metric="accuracy", value=float((pred == y).float().mean())))
    old = store.load(name) if store.has(name) else {}
    store.save(name, {**old, **counts})


def test_classifier_claims_bootstrap_over_images(tmp_path):
    store, rows = CountStore(tmp_path), []
    curves = {("vgg16_cls", "r18_cls"): {0: 0.9, 5: 0.5, 20: 0.4, 50: 0.6},  # rises by about 20 points
              ("r18_cls", "vgg16_cls"): {0: 0.9, 5: 0.4, 20: 0.2, 50: 0.7}}  # by about 50: more
    for (s, t), c in curves.items():
        _cls_cell(store, rows, s, t, c, f"c-{s}")
        _cls_cell(store, rows, s, s, {it: 0.05 if it else 0.9 for it in c}, f"c-{s}")
    df = pd.DataFrame(rows)[ROWS]
    out = dsc.claims(df, _profile(), counts=tmp_path).set_index(["claim_id", "part"])
    over = out.loc[("ds_cls_overfit", "")]
    assert over["outcome"] == "reproduced" and over["unit"] == "accuracy points" and over["n_images"] == 256
    assert out.loc[("ds_cls_overfit", "r18_cls -> vgg16_cls"), "value"] > out.loc[("ds_cls_overfit", "vgg16_cls -> r18_cls"), "value"]
    assert over["why"].startswith("target accuracy (%) by iteration: vgg16_cls -> r18_cls: 0: ")
    more = out.loc[("ds_cls_resnet_more", "")]
    assert more["outcome"] == "reproduced" and more["value"] > 10 and "from the ResNet source" in more["why"]
    assert len(out.loc["ds_cls_resnet_more"]) == 1  # one paired difference, no parts


def test_classifiers_that_never_transfer_are_not_testable(tmp_path):
    store, rows = CountStore(tmp_path), []
    for s, t in (("vgg16_cls", "r18_cls"), ("r18_cls", "vgg16_cls")):
        _cls_cell(store, rows, s, t, {0: 0.5, 5: 0.9, 20: 0.9, 50: 0.9}, f"c-{s}")
    out = dsc.claims(pd.DataFrame(rows)[ROWS], _profile(), counts=tmp_path).set_index(["claim_id", "part"])
    assert out.loc[("ds_cls_overfit", ""), "outcome"] == "not testable here"
    assert "do not transfer" in out.loc[("ds_cls_resnet_more", ""), "why"]


def test_missing_grids_are_not_testable_with_a_reason(tmp_path):
    res = Results(tmp_path)
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.6, 0.5, 0.55), ds=0.3)
    out = dsc.claims(res.df(), counts=res.store.folder, profile=_profile(at_models=())).set_index(["claim_id", "part"])
    assert out.loc[("ds_table3_at_targets", ""), "outcome"] == "not testable here"
    assert "this run has none" in out.loc[("ds_table3_at_targets", ""), "why"]
    assert out.loc[("ds_fig8_scale_ratio", ""), "outcome"] == "not testable here"
    heads = out.xs("", level="part")
    assert list(heads.index) == list(dsc.CLAIM_IDS) and heads["value"][heads["outcome"] == "not testable here"].isna().all()


def test_claim_glue_states_outcomes_values_and_parts(tmp_path):
    res = Results(tmp_path)
    _pair(res, "psp_r18", "fcn8s_vgg16", fs=(0.70, 0.65, 0.68), ds=0.30)
    glue = prose.claim_glue(dsc.claims(res.df(), counts=res.store.folder, profile=_profile()))
    assert glue["o_ds_table1_ds_beats_fs"] == "**reproduced**"
    assert glue["c_ds_table1_ds_beats_fs"].endswith("mIoU points") and "[" in glue["c_ds_table1_ds_beats_fs"]
    assert glue["p_ds_table1_ds_beats_fs"] == "1 of 1 parts reproduced"
    assert glue["n_claims"] == 11 and glue["n_reproduced"] + glue["n_contradicted"] + glue["n_inconclusive"] \
        + glue["n_not_testable"] == 11
    assert all(type(v) in (str, int) for v in glue.values())
    view = prose.claims_view(dsc.claims(res.df(), counts=res.store.folder, profile=_profile()))
    assert view.loc[("ds_table1_ds_beats_fs", ""), "n_images"] == str(N)
