"""Tables of notebook ``01_dynamic_scaling`` (the paper's Tables 1-4, Fig 8), its headline numbers
and the examples of its Fig 6; the curves are ``segrepro.report.plots.curves_by_source``.

Every builder takes the study's tidy rows (``run_study(profile, "dynamic_scaling")``) and returns a
DataFrame; mIoU and accuracy are in % (points). Sources, targets and methods keep our names in the
index; the paper's numbers sit next to ours through ``segrepro.report.tables.with_paper_values``
(our ``psp_r18`` stands for the paper's PSPNet-Res50, ``shapes`` for VOC, ``bim`` for FS, ...).

FS is reported at its best snapshot for each (source, target) pair (its lowest mIoU), DS at its last
iteration, as the paper does (Sec. 6: FS "at its best iteration", 1k for VGG and 5 for ResNet
sources; DS at 1k); the claims (``claims.py``) use the same reading. The adversarially trained
targets (names with ``@``) are columns of the transfer grid on the first preset; they appear only in
:func:`at_table`. Every table's clean row is the targets' mIoU on the same images as its attacked
rows (``grids.n_images``, the first validation images); the setup chapter's clean mIoU is on
``profile.n_images`` images, the same number when the two fields agree.
"""
from __future__ import annotations

import json

import pandas as pd

from segrepro.report.claims import attempt
from segrepro.report.tables import paper_name, select, summarise, with_paper_values
from segrepro.run.store import COST_METRICS
from segrepro.studies.dynamic_scaling.grids import DS, FS, NAME, psp_source, transfer_grids, vgg_source

PAPER_TABLES = {"shapes": "ds_table1_voc", "voc": "ds_table1_voc", "street": "ds_table2_cityscapes",
                "cityscapes": "ds_table2_cityscapes"}
_EVAL_SCALE_PAPER = {"0.5": "0.5", "0.75": "0.75", "1": "1.0", "ms": "multi"}


def arch(name: str) -> str:
    """The architecture of a model name (``"psp_r18@PGD3-AT"`` -> ``"psp_r18"``)."""
    return str(name).partition("@")[0]


def attacked(df: pd.DataFrame, grid: str, *, preset=None, eps=None, metric: str = "miou",
             eval_scale="1") -> pd.DataFrame:
    """Attack rows of one grid (clean and cost rows excluded)."""
    rows = select(df, grid=grid, preset=preset, metric=metric, eval_scale=eval_scale)
    return select(rows[rows["method"] != "clean"], eps=eps)


def is_at(name) -> bool:
    """An adversarially trained model (``"psp_r18@PGD3-AT"``)."""
    return "@" in str(name)


def _at_mask(rows: pd.DataFrame) -> pd.Series:
    """Boolean mask of the rows whose target is adversarially trained (a bool Series even when empty)."""
    return rows["target"].astype(str).str.contains("@", regex=False).astype(bool)


def fs_best_ds_last(rows: pd.DataFrame) -> pd.DataFrame:
    """FS rows at each pair's best snapshot, every other method's at its last iteration.

    Per ``(preset, grid, source, target, eval scale, params, eps)``: the best FS snapshot has the lowest
    seed-mean mIoU of that pair (the claims choose it inside every bootstrap resample).
    """
    keys = ["preset", "grid", "source", "target", "eval_scale", "method", "params", "eps"]
    if rows.empty:
        return rows
    last = rows.groupby(keys)["iteration"].transform("max")
    out = [rows[(rows["method"] != FS) & (rows["iteration"] == last)]]
    fs = rows[rows["method"] == FS]
    if len(fs):
        means = fs.groupby([*keys, "iteration"])["value"].mean().reset_index()
        best = means.loc[means.groupby(keys)["value"].idxmin(), [*keys, "iteration"]]
        out.append(fs.merge(best, on=[*keys, "iteration"]))
    return pd.concat(out, ignore_index=True)


def _clean(df: pd.DataFrame, grid: str, preset: str | None, at: bool) -> pd.DataFrame:
    """Clean mIoU (%) per target of a grid (adversarially trained targets or the others)."""
    clean = select(df, grid=grid, preset=preset, method="clean", metric="miou", eval_scale="1")
    clean = clean[_at_mask(clean) == at]
    return clean.groupby("target")["value"].mean().mul(100).rename("ours").reset_index()


def _side_by_side(ours: pd.DataFrame, index, columns) -> pd.DataFrame:
    table = ours.pivot_table(index=index, columns=columns, values=["ours", "paper"], aggfunc="first")
    table = table.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    return table.round(2)


def transfer_table(df: pd.DataFrame, preset: str, eps: float, grid: str = "transfer") -> pd.DataFrame:
    """Table 1 (``shapes`` ~ VOC) or 2 (``street`` ~ Cityscapes): target mIoU, ours next to the paper's.

    Returns:
        Index ``(source, method)`` (``("clean", "-")`` first); columns ``(target, ours|paper)``.
    """
    rows = attacked(df, grid, preset=preset, eps=eps)
    rows = fs_best_ds_last(rows[~_at_mask(rows)])
    if rows.empty:
        raise ValueError(f"no {grid!r} rows for preset={preset!r}, eps={eps}")
    s = summarise(rows, by=["source", "target", "method"])
    long = _with_paper(s, PAPER_TABLES.get(preset), paper_filter={"eps": 0.03})
    clean = _clean(df, grid, preset, at=False)
    clean["paper"] = _paper_clean(PAPER_TABLES.get(preset), clean["target"])
    long = pd.concat([clean.assign(source="clean", method="-"), long], ignore_index=True)
    order = [("clean", "-"), *sorted({(s, m) for s, m in zip(long["source"], long["method"]) if s != "clean"})]
    return _side_by_side(long, ["source", "method"], "target").reindex(order)


def _with_paper(s: pd.DataFrame, paper: str | None, paper_filter=None, on=("source", "target", "method")):
    """Summarised rows (our names) with a ``paper`` column matched on the papers' names."""
    s = s.copy()
    ours = s.rename(columns={"mean": "ours"})
    ours["ours"] = ours["ours"] * 100
    if paper is None:
        return ours.assign(paper=float("nan"))
    mapped = s.copy()
    for col in on:
        mapped[col] = mapped[col].map(lambda v: arch(v))
    merged = with_paper_values(mapped, paper, on=on, paper_filter=paper_filter)
    merged = merged.dropna(subset=["ours"]).drop_duplicates(subset=list(on))
    lookup = {tuple(r[c] for c in on): r["paper"] for _, r in merged.iterrows()}
    ours["paper"] = [lookup.get(tuple(paper_name(arch(r[c])) for c in on), float("nan")) for _, r in ours.iterrows()]
    return ours


def _paper_clean(paper: str | None, targets, **filters) -> list[float]:
    if paper is None:
        return [float("nan")] * len(targets)
    from segrepro import paper_values

    p = select(paper_values.load(paper), method="clean", **filters)
    values = dict(zip(p["target"], p["value"]))
    return [values.get(paper_name(arch(t)), float("nan")) for t in targets]


def at_table(df: pd.DataFrame, eps: float | None = None, preset: str | None = None) -> pd.DataFrame:
    """Table 3: mIoU of the adversarially trained targets under FS (best snapshot) and DS (last).

    The clean row is the AT targets' mIoU on the images attacked here (the transfer grid's).
    """
    rows = attacked(df, "transfer", preset=preset, eps=eps)
    rows = fs_best_ds_last(rows[_at_mask(rows)])
    if rows.empty:
        raise ValueError("no adversarially trained targets in the 'transfer' rows: were they run?")
    s = summarise(rows, by=["source", "target", "method"])
    long = _with_paper(s, "ds_table3_at_targets")
    clean = _clean(df, "transfer", preset, at=True)
    clean["paper"] = _paper_clean("ds_table3_at_targets", clean["target"])
    long = pd.concat([clean.assign(source="clean", method="-"), long], ignore_index=True)
    order = [("clean", "-"), *sorted({(s, m) for s, m in zip(long["source"], long["method"]) if s != "clean"})]
    return _side_by_side(long, ["source", "method"], "target").reindex(order)


def scale_table(df: pd.DataFrame, eps: float | None = None) -> pd.DataFrame:
    """Table 4: each source segmenting its own examples at 50 %, 75 %, 100 % and multi-scale."""
    rows = select(df, grid="scales", metric="miou")
    rows = select(rows[(rows["method"] != "clean") & (rows["source"] == rows["target"])], eps=eps)
    if rows.empty:
        raise ValueError("no 'scales' rows")
    last = rows.groupby(["source", "method"])["iteration"].transform("max")
    s = summarise(rows[rows["iteration"] == last], by=["source", "method", "eval_scale"])
    s = s.rename(columns={"mean": "ours"})
    s["ours"] *= 100
    from segrepro import paper_values

    p = paper_values.load("ds_table4_multiscale")
    lookup = {(r.source, r.method, str(r.eval_scale)): r.value for r in p.itertuples()}
    s["paper"] = [lookup.get((paper_name(a), paper_name(m), _EVAL_SCALE_PAPER.get(e, e)), float("nan"))
                  for a, m, e in zip(s["source"], s["method"], s["eval_scale"])]
    table = _side_by_side(s, ["source", "method"], "eval_scale")
    order = [c for c in ("0.5", "0.75", "1", "ms") if c in table.columns.get_level_values(0)]
    return table[[(c, k) for c in order for k in ("ours", "paper") if (c, k) in table.columns]]


def lambda_rows(df: pd.DataFrame, eps: float | None = None, default_lam: float = 0.5) -> pd.DataFrame:
    """Fig 8's rows, every one a DS row with ``params`` ``{"lam": ...}`` and a ``lam`` column: the lambda
    grid's, the transfer grid's DS (the default ratio) and its FS at the same iteration from the same
    source (ratio 0: DS without scaling is FS, bit for bit, so FS rows stand for DS at lam 0)."""
    rows = attacked(df, "lambda", eps=eps)
    if rows.empty:
        raise ValueError("no 'lambda' rows")
    source, preset, steps = rows["source"].iloc[0], rows["preset"].iloc[0], int(rows["iteration"].max())
    base = attacked(df, "transfer", preset=preset, eps=eps)
    base = base[(base["source"] == source) & (base["iteration"] == steps) & ~_at_mask(base)]
    base = base[base["method"].isin([FS, DS])]
    lam = [0.0 if m == FS else float(json.loads(p).get("lam", default_lam)) for m, p in zip(base["method"], base["params"])]
    grid_lam = [float(json.loads(p).get("lam", default_lam)) for p in rows["params"]]
    out = pd.concat([base.assign(lam=lam), rows.assign(lam=grid_lam)], ignore_index=True)
    return out.assign(method=DS, params=[json.dumps({"lam": v}) for v in out["lam"]])


def lambda_table(df: pd.DataFrame, eps: float | None = None, default_lam: float = 0.5) -> pd.DataFrame:
    """Fig 8: target mIoU (%) against the DS scale ratio ``lam``; rows ``lam``, columns targets
    (mean over seeds; see :func:`lambda_rows`)."""
    rows = lambda_rows(df, eps, default_lam)
    s = summarise(rows, by=["lam", "target"])
    table = s.pivot_table(index="lam", columns="target", values="mean", aggfunc="first") * 100
    return table.round(2)


def cls_table(df: pd.DataFrame) -> pd.DataFrame:
    """The classifiers: validation accuracy (%), accuracy on the attacked images before the attack
    (iteration 0, %), and training seconds."""
    rows = select(df, grid="classification", method="clean")
    t = rows.pivot_table(index="target", columns="metric", values="value", aggfunc="mean")
    if "val_accuracy" in t:
        t["val_accuracy"] *= 100
    clean = select(df, grid="classification", metric="accuracy")
    clean = clean[clean["iteration"] == 0]
    if len(clean):
        t["attacked images, clean accuracy"] = clean.groupby("target")["value"].mean() * 100
    return t.round(2)


def without_at(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of every target but the adversarially trained ones (the curves of Figs 3-5, 7)."""
    return df[~_at_mask(df)]


def _shown(fig):
    """Close ``fig`` for the inline backend and return it: the cell's value then draws it exactly once."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


def _note(err: Exception):
    from IPython.display import Markdown

    return Markdown(f"*Not run at this profile: {err}.*")


def curves(df: pd.DataFrame, grid: str, *, method: str, eps: float, preset: str | None = None,
           metric: str = "miou", title: str = ""):
    """``segrepro.report.plots.curves_by_source`` without the adversarially trained targets, or a
    Markdown note when this profile ran no such rows (e.g. no long run when ``long_steps <= steps``)."""
    from segrepro.report import plots

    try:
        return _shown(plots.curves_by_source(without_at(df), grid, method=method, eps=eps, preset=preset,
                                             metric=metric, title=title))
    except ValueError as err:
        return _note(err)


def fig8(df: pd.DataFrame, profile):
    """Fig 8: ``plots.param_ablation`` of :func:`lambda_rows` (every target), or a note without lambda rows."""
    from segrepro.report import plots
    from segrepro.studies.dynamic_scaling import grids

    try:
        rows = lambda_rows(df, profile.paper_eps, grids.default_lam(profile))
    except ValueError as err:
        return _note(err)
    return _shown(plots.param_ablation(rows, param="lam", source=psp_source(profile), target=list(profile.targets),
                                       method=DS, eps=profile.paper_eps))


def fig8_table(df: pd.DataFrame, profile):
    """:func:`lambda_table` at the paper's eps, or a note without lambda rows."""
    from segrepro.studies.dynamic_scaling import grids

    try:
        return lambda_table(df, profile.paper_eps, grids.default_lam(profile))
    except ValueError as err:
        return _note(err)


def cost_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds and passes per adversarial example by grid and method (FS vs DS cost)."""
    cost = df[df["metric"].isin(COST_METRICS)]
    return cost.pivot_table(index=["grid", "method"], columns="metric", values="value", aggfunc="mean").round(4)


def eps_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean target mIoU (%) of the transfer grid by preset, method and eps: transfer pairs and white-box.

    FS at its best snapshot per pair, DS at its last; on the sources attacked at every eps of the
    preset (the larger budget runs from the VGG and PSP sources only), so the columns compare alike.
    """
    rows = attacked(df, "transfer")
    rows = fs_best_ds_last(rows[~_at_mask(rows)])
    keep = []
    for preset, g in rows.groupby("preset"):
        n_eps = g["eps"].nunique()
        common = [s for s, h in g.groupby("source") if h["eps"].nunique() == n_eps]
        keep.append(g[g["source"].isin(common)])
    rows = pd.concat(keep) if keep else rows
    rows = rows.assign(kind=["white-box" if s == t else "transfer" for s, t in zip(rows["source"], rows["target"])])
    table = rows.pivot_table(index=["preset", "kind", "method"], columns="eps", values="value", aggfunc="mean") * 100
    return table.round(2)


def family(name: str) -> str:
    """Backbone family of a model name: ``"vgg"`` or ``"resnet"`` (every non-VGG zoo model is a ResNet)."""
    return "vgg" if "vgg" in arch(name) else "resnet"


def family_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Mean transfer mIoU (%) of FS and DS, and DS - FS (points; negative: DS transfers better), by
    preset, eps and pair kind: ``across families`` (VGG <-> ResNet) or ``within family`` (e.g. PSPNet
    <-> DeepLabV3, both on a dilated ResNet). FS at its best snapshot per pair, DS at its last."""
    rows = attacked(df, "transfer")
    rows = fs_best_ds_last(rows[(rows["source"] != rows["target"]) & ~_at_mask(rows)])
    if not {FS, DS} <= set(rows["method"]):
        raise ValueError("family_gaps needs FS and DS transfer rows")
    kind = ["across families" if family(s) != family(t) else "within family"
            for s, t in zip(rows["source"], rows["target"])]
    table = rows.assign(pair=kind).pivot_table(index=["preset", "eps", "pair"], columns="method", values="value",
                                               aggfunc="mean") * 100
    table["DS - FS"] = table[DS] - table[FS]
    return table.round(2)


def _mean(rows: pd.DataFrame, method: str, whitebox: bool) -> float:
    rows = rows[(rows["method"] == method) & ((rows["source"] == rows["target"]) == whitebox)]
    return float(rows["value"].mean() * 100) if len(rows) else float("nan")


def headline(df: pd.DataFrame, profile) -> dict[str, float | int | str]:
    """Numbers the notebook quotes in its prose (glued; Python floats, ints and strings only).

    Keys: ``{fs,ds}_{transfer,whitebox}_p{i}`` and ``gap_p{i}`` (preset ``i``, the paper's eps, every
    source); ``*_side_e0`` / ``*_side_e1``: the same on the first preset from the VGG and PSP sources at
    the paper's eps and at the larger one (NaN without it); ``gap_across_p0`` / ``gap_within_p0``;
    ``clean_p0``; ``lam_gain`` (VGG-target mIoU at ratio 0 minus at the default); ``ds_cost_ratio``;
    the scale (``eps0``, ``eps1``, ``steps``, ``long_steps``, ``ds_images``, ``setup_images``,
    ``cls_images``, ``cls_steps``, ``reference``, ``cls_reference``, ``flat_tolerance``). A missing
    part gives NaN, so every key always exists.
    """
    from segrepro.studies.dynamic_scaling import claims as dsc
    from segrepro.studies.dynamic_scaling import classification as cls
    from segrepro.studies.dynamic_scaling import grids

    nan = float("nan")
    eps0 = profile.paper_eps
    eps1 = float(profile.eps[1]) if len(profile.eps) > 1 and profile.ds_second_eps else nan
    rows = attacked(df, "transfer")
    rows = fs_best_ds_last(rows[~_at_mask(rows)]) if len(rows) else rows
    out: dict[str, float | int | str] = {}
    for i, preset in enumerate(profile.presets[:2]):
        here = select(rows, preset=preset, eps=eps0) if len(rows) else rows
        for m, name in ((FS, "fs"), (DS, "ds")):
            out[f"{name}_transfer_p{i}"] = _mean(here, m, False) if len(here) else nan
            out[f"{name}_whitebox_p{i}"] = _mean(here, m, True) if len(here) else nan
        out[f"gap_p{i}"] = out[f"ds_transfer_p{i}"] - out[f"fs_transfer_p{i}"]
    side = rows[rows["source"].isin(grids.side_sources(profile))] if len(rows) else rows
    for tag, eps in (("e0", eps0), ("e1", eps1)):
        here = select(side, preset=profile.presets[0], eps=eps) if len(side) and eps == eps else side.iloc[0:0]
        for m, name in ((FS, "fs"), (DS, "ds")):
            out[f"{name}_transfer_side_{tag}"] = _mean(here, m, False) if len(here) else nan
            out[f"{name}_whitebox_side_{tag}"] = _mean(here, m, True) if len(here) else nan
        out[f"gap_side_{tag}"] = out[f"ds_transfer_side_{tag}"] - out[f"fs_transfer_side_{tag}"]
    gaps, _ = attempt(family_gaps, select(df, eps=eps0, preset=profile.presets[0]))
    for pair, name in (("across families", "across"), ("within family", "within")):
        key = (profile.presets[0], eps0, pair)
        out[f"gap_{name}_p0"] = float(gaps.loc[key, "DS - FS"]) if gaps is not None and key in gaps.index else nan
    clean = _clean(df, "transfer", profile.presets[0], at=False)
    out["clean_p0"] = float(clean["ours"].mean()) if len(clean) else nan
    default = grids.default_lam(profile)
    lam, _ = attempt(lambda_table, df, eps0, default)
    target = vgg_source(profile)
    found = lam is not None and target in lam.columns and {0.0, default} <= set(lam.index)
    out["lam_gain"] = float(lam.loc[0.0, target] - lam.loc[default, target]) if found else nan
    out["lam_source"], out["lam_target"] = psp_source(profile), target
    cost = cost_summary(select(df, grid="transfer"))
    sec = "seconds_per_example"
    out["ds_cost_ratio"] = (float(cost.loc[("transfer", DS), sec] / cost.loc[("transfer", FS), sec])
                            if sec in cost and ("transfer", DS) in cost.index else nan)
    if eps1 == eps1 and out["gap_side_e1"] == out["gap_side_e1"]:
        out["second_budget"] = (
            f"From the {' and '.join(grids.side_sources(profile))} sources on `{profile.presets[0]}`, the larger "
            f"budget $\\epsilon$ = {eps1:g} moves the mean DS - FS transfer gap from {out['gap_side_e0']:+.1f} to "
            f"{out['gap_side_e1']:+.1f} points, and the sources' white-box FS mIoU from "
            f"{out['fs_whitebox_side_e0']:.1f} % to {out['fs_whitebox_side_e1']:.1f} %.")
    else:
        out["second_budget"] = "This profile runs no second budget."
    n, m = grids.n_images(profile), profile.n_images
    out["clean_note"] = (f"on the same first {n} validation images as the setup chapter's clean mIoU" if n == m else
                         f"on the {n} images attacked here (the setup chapter evaluates the first {m}, so its clean "
                         "mIoU differs by which images are counted)")
    out.update(eps0=float(eps0), eps1=eps1, steps=int(profile.steps), long_steps=int(profile.long_steps),
               ds_images=int(grids.n_images(profile)), setup_images=int(profile.n_images),
               cls_images=int(profile.ds_cls_images), cls_steps=int(profile.ds_cls_steps),
               reference=int(grids.reference_iteration(profile.steps) or 0),
               cls_reference=int(cls.reference_iteration(profile.ds_cls_steps) or 0),
               flat_tolerance=float(dsc.FLAT_TOLERANCE))
    return out


def visual_examples(profile, zoo, *, eps: float, n: int = 3, preset: str | None = None,
                    source: str | None = None) -> dict:
    """Clean, FS and DS examples of the transfer grid's first images, with every target's prediction.

    Uses the examples the grid saved (``results/<profile>/examples/<cell>.pt``); when they are absent
    or were made from other images (a grid run by older code or data) they are made here with the
    same settings (a few images: seconds).

    Returns:
        ``{"clean", "labels", "adv": {method: images}, "pred": {(method, target): labels}, "preset", "source"}``.
    """
    import torch

    from segrepro.attacks import attack
    from segrepro.run import evaluate as ev
    from segrepro.run.grid import Cell
    from segrepro.run.runner import results_path

    preset = preset or profile.presets[0]
    source = source or vgg_source(profile)
    specs = [g for g in transfer_grids(profile) if g.preset == preset and source in g.sources
             and any(abs(e - eps) < 1e-9 for e in g.eps)]
    images, labels = zoo.data(preset, n)
    out = {"clean": images, "labels": labels, "adv": {}, "pred": {}, "preset": preset, "source": source}
    folder = results_path(profile, NAME).parent / "examples"
    for spec in specs:
        method = spec.methods[0]
        cell = Cell(spec, source, method, float(eps), spec.seeds[0], zoo.fingerprint(preset, source))
        path = folder / f"{cell.key}.pt"
        saved = ev.load_examples(path) if path.is_file() else None
        if saved is not None and saved["adv"].shape[0] >= n and torch.allclose(saved["clean"][:n], images, atol=2e-3):
            adv = saved["adv"][:n]
        else:
            model = zoo.model(preset, source)
            dev = next(model.parameters()).device
            adv = attack(model, images.to(dev), labels.to(dev), method.name, eps=float(eps), alpha=spec.alpha,
                         steps=spec.steps, seed=cell.seed * 1_000_003, **dict(method.params)).cpu()
        out["adv"][method.name] = adv
    for name in dict.fromkeys((*profile.targets, source)):
        model = zoo.model(preset, name)
        dev = next(model.parameters()).device
        for method, x in (("clean", images), *out["adv"].items()):
            out["pred"][(method, name)] = ev.segment(model, x.to(dev)).cpu()
    return out


#: How each outcome reads in the prose.
_OUTCOME_TEXT = {"reproduced": "**reproduced**", "contradicted": "**contradicted**",
                 "inconclusive": "**inconclusive**", "not testable here": "**not testable here**"}


def claim_glue(claims: pd.DataFrame) -> dict[str, str | int]:
    """What the notebook glues from its claims table (strings are Markdown; counts are ints).

    Keys per claim id: ``o_<id>`` (the outcome, with the images an inconclusive claim needs),
    ``c_<id>`` (our value and its 95 % interval in the claim's unit), ``p_<id>`` (how its parts came
    out, "" without parts); and ``n_claims``, ``n_reproduced``, ``n_contradicted``, ``n_inconclusive``,
    ``n_not_testable``.
    """
    out: dict[str, str | int] = {}
    heads = claims[claims["part"].fillna("") == ""]
    for _, row in heads.iterrows():
        cid, outcome = row["claim_id"], row["outcome"]
        text = _OUTCOME_TEXT.get(outcome, outcome)
        if outcome == "inconclusive":
            n = row["n_needed"]
            text += (f" (about {int(n)} images per cell would decide it at the observed spread)"
                     if pd.notna(n) else " (no interval to size)")
        out[f"o_{cid}"] = text
        value = row["value"]
        if pd.isna(value):
            out[f"c_{cid}"] = "not measured"
        elif pd.isna(row["low"]):
            out[f"c_{cid}"] = f"{float(value):+.2f} {row['unit']} (no interval)"
        else:
            out[f"c_{cid}"] = f"{float(value):+.2f} [{float(row['low']):+.2f}, {float(row['high']):+.2f}] {row['unit']}"
        parts = claims[(claims["claim_id"] == cid) & (claims["part"].fillna("") != "")]
        counts = parts["outcome"].value_counts()
        out[f"p_{cid}"] = ", ".join(f"{int(counts[o])} of {len(parts)} parts {o}" for o in _OUTCOME_TEXT
                                    if counts.get(o, 0)) if len(parts) else ""
    out["n_claims"] = int(len(heads))
    for o, key in (("reproduced", "n_reproduced"), ("contradicted", "n_contradicted"),
                   ("inconclusive", "n_inconclusive"), ("not testable here", "n_not_testable")):
        out[key] = int((heads["outcome"] == o).sum())
    return out


def claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the notebook shows it: claim and part, our value with its interval, images,
    seeds, outcome, the images an inconclusive claim needs, and why."""
    cols = ["claim_id", "part", "quantity", "unit", "direction", "threshold", "paper_value", "value", "low", "high",
            "n_images", "n_seeds", "outcome", "n_needed", "why"]
    view = claims[cols].copy()
    for c in ("value", "low", "high"):
        view[c] = view[c].map(lambda v: "" if pd.isna(v) else f"{float(v):+.2f}")
    for c in ("n_images", "n_seeds", "n_needed"):
        view[c] = view[c].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return view.set_index(["claim_id", "part"])
