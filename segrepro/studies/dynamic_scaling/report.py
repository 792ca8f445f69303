"""Tables of notebook ``01_dynamic_scaling`` (the paper's Tables 1-4, Fig 8), its headline numbers
and the examples of its Fig 6; the curves are ``segrepro.report.plots.curves_by_source``.

Every builder takes the study's tidy rows (``run_study(profile, "dynamic_scaling")``) and returns a
DataFrame; mIoU and accuracy are in % (points). Sources, targets and methods keep our names in the
index; the paper's numbers sit next to ours through ``segrepro.report.tables.with_paper_values``
(our ``psp_r18`` stands for the paper's PSPNet-Res50, ``shapes`` for VOC, ``bim`` for FS, ...).

FS is reported at its best iteration (lowest mean transfer mIoU over the targets, per source and
eps), DS at its last, as the paper does (Sec. 6: FS at 1k for VGG and at 5 for ResNet sources, DS at 1k).
"""
from __future__ import annotations

import json

import pandas as pd

from segrepro.report.claims import attempt
from segrepro.report.tables import paper_name, select, summarise, with_paper_values
from segrepro.run.store import COST_METRICS
from segrepro.studies.dynamic_scaling.grids import DS, FS, NAME, transfer_grids, vgg_source

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


def fs_best_ds_last(rows: pd.DataFrame) -> pd.DataFrame:
    """FS rows at each (source, eps)'s best iteration, every other method's at its last iteration.

    The best FS iteration minimises the seed-mean mIoU over the transfer targets (source != target);
    a source with no transfer target uses its white-box row.
    """
    keys = ["source", "method", "params", "eps"]
    last = rows.groupby(keys)["iteration"].transform("max")
    out = [rows[(rows["method"] != FS) & (rows["iteration"] == last)]]
    fs = rows[rows["method"] == FS]
    if len(fs):
        transfer = fs[fs["source"] != fs["target"]]
        basis = transfer if len(transfer) else fs
        means = basis.groupby([*keys, "iteration"])["value"].mean().reset_index()
        best = means.loc[means.groupby(keys)["value"].idxmin(), [*keys, "iteration"]]
        out.append(fs.merge(best, on=[*keys, "iteration"]))
    return pd.concat(out, ignore_index=True)


def _side_by_side(ours: pd.DataFrame, index, columns) -> pd.DataFrame:
    table = ours.pivot_table(index=index, columns=columns, values=["ours", "paper"], aggfunc="first")
    table = table.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    return table.round(2)


def transfer_table(df: pd.DataFrame, preset: str, eps: float, grid: str = "transfer") -> pd.DataFrame:
    """Table 1 (``shapes`` ~ VOC) or 2 (``street`` ~ Cityscapes): target mIoU, ours next to the paper's.

    Returns:
        Index ``(source, method)`` (``("clean", "-")`` first); columns ``(target, ours|paper)``.
    """
    rows = fs_best_ds_last(attacked(df, grid, preset=preset, eps=eps))
    if rows.empty:
        raise ValueError(f"no {grid!r} rows for preset={preset!r}, eps={eps}")
    s = summarise(rows, by=["source", "target", "method"])
    long = _with_paper(s, PAPER_TABLES.get(preset), paper_filter={"eps": 0.03})
    clean = select(df, grid=grid, preset=preset, method="clean", metric="miou", eval_scale="1")
    clean = clean.groupby("target")["value"].mean().mul(100).rename("ours").reset_index()
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


def at_table(df: pd.DataFrame, eps: float | None = None) -> pd.DataFrame:
    """Table 3: mIoU of the adversarially trained targets under FS (best iteration) and DS (last)."""
    rows = attacked(df, "at_targets", eps=eps)
    rows = fs_best_ds_last(rows[rows["target"].str.contains("@")])
    if rows.empty:
        raise ValueError("no 'at_targets' rows: were the adversarially trained targets run?")
    s = summarise(rows, by=["source", "target", "method"])
    long = _with_paper(s, "ds_table3_at_targets")
    clean = select(df, grid="at_targets", method="clean", metric="miou", eval_scale="1")
    clean = clean[clean["target"].str.contains("@")].groupby("target")["value"].mean().mul(100)
    clean = clean.rename("ours").reset_index()
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


def lambda_table(df: pd.DataFrame, eps: float | None = None) -> pd.DataFrame:
    """Fig 8: target mIoU (%) against the DS scale ratio ``lam``; rows ``lam``, columns targets."""
    rows = attacked(df, "lambda", eps=eps)
    if rows.empty:
        raise ValueError("no 'lambda' rows")
    rows = rows.assign(lam=[float(json.loads(p).get("lam", 0.5)) for p in rows["params"]])
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


def cost_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds and passes per adversarial example by grid and method (FS vs DS cost)."""
    cost = df[df["metric"].isin(COST_METRICS)]
    return cost.pivot_table(index=["grid", "method"], columns="metric", values="value", aggfunc="mean").round(4)


def eps_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean target mIoU (%) of the transfer grid by preset, method and eps: transfer pairs and white-box.

    FS at its best iteration, DS at its last; the two eps columns show what doubling the budget changes.
    """
    rows = fs_best_ds_last(attacked(df, "transfer"))
    rows = rows.assign(kind=["white-box" if s == t else "transfer" for s, t in zip(rows["source"], rows["target"])])
    table = rows.pivot_table(index=["preset", "kind", "method"], columns="eps", values="value", aggfunc="mean") * 100
    return table.round(2)


def family(name: str) -> str:
    """Backbone family of a model name: ``"vgg"`` or ``"resnet"`` (every non-VGG zoo model is a ResNet)."""
    return "vgg" if "vgg" in arch(name) else "resnet"


def family_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Mean transfer mIoU (%) of FS and DS, and DS - FS (points; negative: DS transfers better), by
    preset, eps and pair kind: ``across families`` (VGG <-> ResNet) or ``within family`` (e.g. PSPNet
    <-> DeepLabV3, both on a dilated ResNet). FS at its best iteration, DS at its last."""
    rows = fs_best_ds_last(attacked(df, "transfer"))
    rows = rows[rows["source"] != rows["target"]]
    if not {FS, DS} <= set(rows["method"]):
        raise ValueError("family_gaps needs FS and DS transfer rows")
    kind = ["across families" if family(s) != family(t) else "within family"
            for s, t in zip(rows["source"], rows["target"])]
    table = rows.assign(pair=kind).pivot_table(index=["preset", "eps", "pair"], columns="method", values="value",
                                               aggfunc="mean") * 100
    table["DS - FS"] = table[DS] - table[FS]
    return table.round(2)


def headline(df: pd.DataFrame, profile) -> dict[str, float | int]:
    """Numbers the notebook quotes in its prose (glued): mean DS - FS transfer gaps and the like.

    Keys end in ``_e0`` (the profile's first eps, the paper's 0.03 at embedded scale) or ``_e1`` (its
    last eps); a missing part gives NaN so every key always exists.
    """
    out: dict[str, float] = {}
    for tag, eps in (("e0", profile.eps[0]), ("e1", profile.eps[-1])):
        s = eps_summary(select(df, eps=eps))
        for i, preset in enumerate(profile.presets[:2]):
            for kind in ("transfer", "white-box"):
                for m in (FS, DS):
                    key = f"{'fs' if m == FS else 'ds'}_{kind.replace('-', '')}_p{i}_{tag}"
                    out[key] = float(s.loc[(preset, kind, m)].iloc[0]) if (preset, kind, m) in s.index else float("nan")
            out[f"gap_p{i}_{tag}"] = out[f"ds_transfer_p{i}_{tag}"] - out[f"fs_transfer_p{i}_{tag}"]
        gaps, _ = attempt(family_gaps, select(df, eps=eps, preset=profile.presets[0]))
        for pair, name in (("across families", "across"), ("within family", "within")):
            key = (profile.presets[0], eps, pair)
            found = gaps is not None and key in gaps.index
            out[f"gap_{name}_p0_{tag}"] = float(gaps.loc[key, "DS - FS"]) if found else float("nan")
        clean = select(df, grid="transfer", method="clean", metric="miou", preset=profile.presets[0])
        out["clean_p0"] = float(clean["value"].mean() * 100) if len(clean) else float("nan")
    lam, _ = attempt(lambda_table, df, profile.side_eps)
    out["lam_gain"] = float(lam.iloc[0].mean() - lam.loc[0.5].mean()) if lam is not None and 0.5 in lam.index else float("nan")
    cost = cost_summary(select(df, grid="transfer"))
    sec = "seconds_per_example"
    out["ds_cost_ratio"] = (float(cost.loc[("transfer", DS), sec] / cost.loc[("transfer", FS), sec])
                            if sec in cost and ("transfer", DS) in cost.index else float("nan"))
    out["ablation_eps"] = profile.side_eps
    out["eps0"], out["eps1"] = float(profile.eps[0]), float(profile.eps[-1])
    out["steps"], out["long_steps"] = int(profile.steps), int(profile.long_steps)
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
    specs = [g for g in transfer_grids(profile) if g.preset == preset]
    images, labels = zoo.data(preset, n)
    out = {"clean": images, "labels": labels, "adv": {}, "pred": {}, "preset": preset, "source": source}
    folder = results_path(profile, NAME).parent / "examples"
    for spec in specs:
        method = spec.methods[0]
        cell = Cell(spec, source, method, float(eps), spec.seeds[0])
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
