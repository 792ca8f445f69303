"""Tables of notebook ``01_dynamic_scaling`` (the paper's Tables 1-4, Fig 8); its figures are in
``figures``, the numbers its prose quotes in ``prose``.

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

from segrepro.report.tables import paper_name, select, summarise, with_paper_values
from segrepro.run.store import COST_METRICS
from segrepro.studies.dynamic_scaling.grids import DS, FS

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
