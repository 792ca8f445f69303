"""Tables and figures of notebook ``04_rp_pgd`` from the ``rp_pgd`` study's tidy rows, next to the paper's.

Our models stand in for the paper's (``psp_r18`` for PSPNet-Res50, ``dlv3_r18`` for DeepLabv3-Res50,
``shapes`` for Pascal VOC, ``street`` for Cityscapes); every value is mIoU or MisRatio in %.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from segrepro.report.evidence import MissingEvidence
from segrepro.report.plots import miou_vs_iterations
from segrepro.run.grid import canonical_params
from segrepro.run.zoo import parse_name
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd.arms import Arms, estimate, fmt, gap, level

#: Our preset -> the paper's dataset; our architecture -> the paper's model column.
DATASETS = {"shapes": "voc", "street": "cityscapes", "voc": "voc", "cityscapes": "cityscapes"}
MODELS = {"psp": "PSPNet", "dlv3": "DeepLabv3"}
#: Paper table of the AT battery per paper model.
AT_TABLES = {"PSPNet": "rppgd_table4_at", "DeepLabv3": "rppgd_table5_at"}


def paper_model(name: str) -> tuple[str, str]:
    """``(paper model, training)`` of one of ours: ``"psp_r18@PGD3-AT"`` -> ``("PSPNet", "PGD3-AT")``."""
    arch = parse_name(name)[0]
    model = next((v for k, v in MODELS.items() if arch.startswith(k)), arch)
    return model, (name.split("@")[1] if "@" in name else "standard")


def training(name: str) -> str:
    """The AT strategy of a model name (``Standard`` for a clean one), as the paper's rows."""
    return name.split("@")[1] if "@" in name else "Standard"


def _mean(rows: pd.DataFrame) -> float:
    """Mean over seeds of a metric's rows, in % (NaN when there are none)."""
    return float(rows.groupby("seed")["value"].mean().mean() * 100) if len(rows) else math.nan


def seed_values(df: pd.DataFrame, grid: str | None, source: str, method: str = "rp_pgd", params: str | dict = "{}", *,
                target: str | None = None, metric: str = "miou", iteration: int | None = None) -> pd.Series:
    """Per-seed values of one cell (index: seed); ``grid`` None = any grid; ``iteration`` None = the last one stored."""
    params = params if isinstance(params, str) else canonical_params(params)
    rows = df[(df["source"] == source) & (df["target"] == (target or source)) & (df["method"] == method)
              & (df["params"] == params) & (df["metric"] == metric)]
    if grid is not None:
        rows = rows[rows["grid"] == grid]
    if rows.empty:
        return pd.Series(dtype=float)
    it = rows["iteration"].max() if iteration is None else iteration
    return rows[rows["iteration"] == it].groupby("seed")["value"].mean()


# ---------------------------------------------------------------- Fig. 2


def whitebox_rows(df: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    """Fig. 2's rows: the ``whitebox`` grid, white-box only (the model attacked is the model evaluated)."""
    return df[(df["grid"] == "whitebox") & (df["metric"] == metric) & (df["method"] != "clean")
              & (df["source"] == df["target"]) & (df["eval_scale"] == "1")]


def whitebox_table(df: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    """Fig. 2 as numbers: rows ``(source, method)``, columns iterations, white-box, mean over seeds (%)."""
    rows = whitebox_rows(df, metric)
    if rows.empty:
        raise ValueError(f"no white-box {metric} rows (run the rp_pgd study first)")
    t = rows.groupby(["source", "method", "iteration"])["value"].mean().unstack("iteration") * 100
    order = {m: i for i, m in enumerate(rp.FIG2_METHODS)}
    t = t.reindex(sorted(t.index, key=lambda ix: (ix[0], order.get(ix[1], len(order)))))
    t.columns.name = "iteration"
    return t


def whitebox_figure(df: pd.DataFrame, profile):
    """Fig. 2: white-box mIoU (top) and MisRatio (bottom) vs iterations, one column per model (the rows of
    :func:`whitebox_table`)."""
    import matplotlib.pyplot as plt

    sources = rp.whitebox_sources(profile)
    fig, axes = plt.subplots(2, len(sources), figsize=(5.2 * len(sources), 7), squeeze=False, constrained_layout=True)
    ticks = rp.pgd_snapshots(profile, True)
    for j, src in enumerate(sources):
        for i, metric in enumerate(("miou", "mis_ratio")):
            miou_vs_iterations(whitebox_rows(df, metric), source=src, method=list(rp.FIG2_METHODS), metric=metric,
                               targets=[src], scale=100.0, ax=axes[i, j])
            axes[i, j].set_title(f"{src} ({training(src)}), white-box {'mIoU' if metric == 'miou' else 'MisRatio'}")
            axes[i, j].set_xticks(ticks, [str(t) for t in ticks])
            axes[i, j].minorticks_off()
    return fig


# ---------------------------------------------------------------- Tables 1-3 and prototype_grad


def _paper_ablation(table: str, source: str, profile, key: dict) -> float:
    from segrepro import paper_values

    p = paper_values.load(table)
    model, trained = paper_model(source)
    p = p[(p["dataset"] == DATASETS.get(profile.presets[0], "voc")) & (p["model"] == model)
          & (p["model_training"] == trained)]
    for col, val in key.items():
        p = p[p[col] == val]
    return float(p["value"].iloc[0]) if len(p) else math.nan


def _paper_key(table: str, label: str) -> dict:
    if table == "rppgd_table1_regions":
        return {"group": rp.TABLE1.index(label) + 1}
    if table == "rppgd_table2_schedules":
        return {"group": rp.TABLE2.index(label) + 1}
    if table == "rppgd_table3_prototype_regions":
        return {"prototype_regions": label[len("Proto ("):-1]}
    return {}


def ablation_table(df: pd.DataFrame, profile, which: str) -> pd.DataFrame:
    """Table 1, 2 or 3: our white-box mIoU (%, 95 % interval over images) next to the paper's.

    Args:
        which: ``"table1"``, ``"table2"`` or ``"table3"``.

    Returns:
        One row per variant: its parameters (``prototype_grad`` says which reading), per ablation source
        a column ``ours: <source>`` and ``paper: <model>`` (the paper's 100-iteration value, where it has one).
    """
    tables = {"table1": (rp.TABLE1, "rppgd_table1_regions"), "table2": (rp.TABLE2, "rppgd_table2_schedules"),
              "table3": (rp.TABLE3, "rppgd_table3_prototype_regions")}
    if which not in tables:
        raise ValueError(f"which must be one of {sorted(tables)}, got {which!r}")
    labels, paper = tables[which]
    a = Arms(df, profile)
    out = []
    for label in labels:
        rec = {"variant": label, "params": canonical_params(rp.ABLATIONS[label])}
        for src in rp.ablation_sources(profile):
            rec[f"ours: {src}"] = _level(lambda: a.ablation(label, src))
            model, trained = paper_model(src)
            rec[f"paper: {model} ({trained})"] = _paper_ablation(paper, src, profile, _paper_key(paper, label))
        out.append(rec)
    return pd.DataFrame(out)


def _level(get, metric: str = "miou") -> str:
    try:
        return fmt(level(get(), metric))
    except MissingEvidence:
        return "-"


def prototype_grad_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Both readings of the prototype term side by side, per ablation model: white-box mIoU (%) of the full
    attack with and without the features' gradient, their gap, and the gradient balance of ``prototype_grad=True``
    (``||grad (1-beta) L_P|| / ||grad beta L_R||`` and the share of sign components it flips, along the
    released reading's run, mean over iterations and images), each with its 95 % interval over images."""
    a = Arms(df, profile)
    t = rp.ablation_steps(profile)
    out = []
    for src in rp.ablation_sources(profile):
        rec = {"model": src}
        try:
            grad, released = a.ablation("T+B+F+Proto", src), a.ablation(rp.RELEASED, src)
            rec["released (detached, = T+B+F)"] = fmt(level(released))
            rec["prototype_grad=True"] = fmt(level(grad))
            rec["gap (points)"] = fmt(gap(grad, released))
        except MissingEvidence:
            rec.update({"released (detached, = T+B+F)": "-", "prototype_grad=True": "-", "gap (points)": "-"})
        try:
            bal = a.extra("grad_balance", src, t, "ratio")
            rec["||g_P|| / ||g_R||"] = fmt(estimate(lambda w: bal.ratio("ratio", "one", w), bal))
            rec["sign flips (%)"] = fmt(estimate(lambda w: 100 * bal.ratio("flip", "one", w), bal))
        except MissingEvidence:
            rec.update({"||g_P|| / ||g_R||": "-", "sign flips (%)": "-"})
        out.append(rec)
    return pd.DataFrame(out)


# ---------------------------------------------------------------- Tables 4-6


def _battery_value(df: pd.DataFrame, model: str, column: str) -> float:
    miou = df[(df["metric"] == "miou") & (df["eval_scale"] == "1")]
    if column == "Clean":
        clean = miou[(miou["method"] == "clean") & (miou["target"] == model)].drop_duplicates("cell")
        battery = clean[clean["grid"] == "battery"]  # the battery's own images (more, for the AT variants)
        return _mean(battery if not battery.empty else clean)
    white = miou[(miou["source"] == model) & (miou["target"] == model)]
    for kind, method, grids in (("PGD", "pgd", ("whitebox", "battery")), ("CW", "cw", ("battery",)),
                                ("BIM", "bim", ("battery",))):
        if column.startswith(kind) and column[len(kind):].isdigit():
            t = int(column[len(kind):])
            return _mean(white[(white["method"] == method) & (white["iteration"] == t)
                               & white["grid"].isin(grids) & (white["params"] == _params(method))])
    raise ValueError(f"unknown battery column {column!r}")


def _params(method: str) -> str:
    return {"cw": rp.cw_method().params_json, "bim": rp.bim_l2_method().params_json}.get(method, "{}")


def columns(profile) -> list[str]:
    """The battery's columns: Clean, then the attacks (``Arms.columns``)."""
    return ["Clean", *Arms(pd.DataFrame(), profile).columns()]


def at_table(df: pd.DataFrame, profile, arch: str | None = None) -> pd.DataFrame:
    """Robust mIoU (%, mean over seeds) of ``arch`` (default the AT architecture) and its AT models in the
    battery: rows AT strategy, columns battery attacks (columns an architecture lacks are NaN)."""
    arch = arch or rp.at_arch(profile)
    models = [m for m in rp.battery_models(profile) if m.split("@")[0] == arch]
    if not models:
        raise ValueError(f"no battery models of {arch!r}")
    t = pd.DataFrame({c: [_battery_value(df, m, c) for m in models] for c in columns(profile)},
                     index=[training(m) for m in models])
    return t.dropna(axis=1, how="all")


def at_side_by_side(df: pd.DataFrame, profile, arch: str | None = None) -> pd.DataFrame:
    """:func:`at_table` with the paper's row under each of ours (same AT strategy, matching attack columns:
    our CW<t> / BIM<t> under the paper's CW / BIM, our PGD<t> under the paper's PGD<t>)."""
    from segrepro import paper_values

    arch = arch or rp.at_arch(profile)
    ours = at_table(df, profile, arch)
    model = paper_model(arch)[0]
    if model not in AT_TABLES:
        return ours
    p = paper_values.load(AT_TABLES[model])
    p = p[p["dataset"] == DATASETS.get(profile.presets[0], "voc")]
    paper = p.pivot_table(index="at_strategy", columns="attack", values="value", aggfunc="first")
    rename = {k: c for c in ours.columns for k in ("CW", "BIM") if c.startswith(k) and k != c}
    paper = paper.rename(columns=rename).reindex(columns=ours.columns)
    rows = []
    for strategy in ours.index:
        rows.append(ours.loc[strategy].rename((strategy, "ours")))
        if strategy in paper.index:
            rows.append(paper.loc[strategy].rename((strategy, "paper")))
    return pd.DataFrame(rows)


def at_targets_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The project's targets per AT model: clean mIoU and its share of the clean model's, robust mIoU under
    the battery's PGD-20 (or its longest PGD below 20) and the gain over the clean model (points)."""
    steps = sorted(profile.rp_battery_pgd_steps)
    t = 20 if 20 in steps else steps[-1]
    out = []
    for m in rp.battery_models(profile):
        if "@" not in m:
            continue
        base = m.split("@")[0]
        clean, clean0 = _battery_value(df, m, "Clean"), _battery_value(df, base, "Clean")
        pgd, pgd0 = _battery_value(df, m, f"PGD{t}"), _battery_value(df, base, f"PGD{t}")
        out.append({"model": m, "clean mIoU": clean, "share of clean model": clean / clean0,
                    f"PGD{t} mIoU": pgd, f"PGD{t} clean model": pgd0, f"PGD{t} gain (points)": pgd - pgd0})
    return pd.DataFrame(out)


def blackbox_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Table 6: transfer mIoU (%, 95 % interval over images) of SegPGD/RP-PGD made on the surrogate, per AT
    target, with the paper's (its DeepLabv3 targets, surrogate PGD3-AT PSPNet; ours swap the roles)."""
    from segrepro import paper_values

    a = Arms(df, profile)
    p = paper_values.load("rppgd_table6_transfer")
    p = p[p["dataset"] == DATASETS.get(profile.presets[0], "voc")]
    out = []
    for tgt in rp.blackbox_targets(profile):
        rec = {"target": tgt, "AT strategy": training(tgt)}
        for method, paper_attack in (("segpgd", "SegPGD"), ("rp_pgd", "RP-PGD")):
            rec[f"ours: {paper_attack}"] = _level(lambda m=method, t=tgt: a.transfer(m, t))
            hit = p[(p["at_strategy"] == training(tgt)) & (p["attack"] == paper_attack)]
            rec[f"paper: {paper_attack}100"] = float(hit["value"].iloc[0]) if len(hit) else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def settings_table(profile) -> pd.DataFrame:
    """What this run used (the notebook's first table), with the grids' estimated cost on 2 CPU cores."""
    eps2, _ = rp.l2_budget(profile)
    cost = rp.cost(profile)
    items = {"preset": profile.presets[0], "eps / alpha": f"{profile.paper_eps:g} / {profile.alpha:g}",
             "images per cell": rp.n_images(profile), "seeds (random methods)": list(rp.seeds(profile)),
             "Fig. 2 models": list(rp.whitebox_sources(profile)),
             "Fig. 2 iterations (SegPGD, CosPGD, RP-PGD)": list(rp.snapshots(profile)),
             "PGD iterations (one run)": list(rp.pgd_snapshots(profile, True)),
             "ablation models": list(rp.ablation_sources(profile)),
             "ablation iterations": rp.ablation_steps(profile), "ablation seeds": list(rp.ablation_seeds(profile)),
             "AT models": list(rp.at_variants(profile)), "battery models": list(rp.battery_models(profile)),
             "battery images (AT variants)": rp.battery_images(profile, True),
             "battery PGD steps": list(profile.rp_battery_pgd_steps),
             "battery CW steps (no random start, 1 seed)": profile.rp_battery_cw_steps,
             "battery L2 BIM steps (1 seed)": profile.rp_battery_bim_steps,
             "L2 BIM budget eps_2": round(eps2, 3),
             "Table 6 surrogate": rp.surrogate(profile), "Table 6 iterations": rp.whitebox_steps(profile),
             "estimated cost on 2 CPU cores (min)": round(float(cost[["attack_s", "eval_s"]].sum().sum()) / 60, 1)}
    return pd.DataFrame({"setting": list(items), "value": [json.dumps(v) if isinstance(v, list) else v
                                                          for v in items.values()]})


# ---------------------------------------------------------------- glue


def claim_glue(claims_df: pd.DataFrame) -> dict:
    """Glue values of every claim row (parts excluded): ``<id>_outcome`` (str), ``<id>_value``, ``<id>_low``,
    ``<id>_high`` (Python floats; NaN when not measured), ``<id>_ci`` (``"[low, high]"`` or words),
    ``<id>_n`` (``"64 images x 2 seeds"``), ``<id>_needed`` (images an inconclusive claim needs, or words) and
    ``<id>_ours`` (value, interval and n in words, "not measured" when absent)."""
    from segrepro.report.present import ours_text, parts_text

    out = {}
    for r in claims_df[claims_df["part"].astype(object).fillna("") == ""].itertuples():
        cid = r.claim_id
        num = (lambda v: float(v) if v is not None and not pd.isna(v) else math.nan)
        value, low, high = num(r.value), num(r.low), num(r.high)
        digits = 3 if r.unit == "fraction" else 2
        out[f"{cid}_outcome"] = str(r.outcome)
        out[f"{cid}_value"], out[f"{cid}_low"], out[f"{cid}_high"] = value, low, high
        out[f"{cid}_ci"] = (f"[{low:.{digits}f}, {high:.{digits}f}]" if not math.isnan(low)
                            else ("no interval" if not math.isnan(value) else "not measured"))
        out[f"{cid}_n"] = (f"{int(r.n_images)} images x {int(r.n_seeds)} seed{'s' if int(r.n_seeds) != 1 else ''}"
                           if r.n_images is not None and not pd.isna(r.n_images) else "no data")
        out[f"{cid}_needed"] = (f"{int(r.n_needed)} images" if r.n_needed is not None and not pd.isna(r.n_needed)
                                else "-")
        parts = parts_text(claims_df, cid)
        out[f"{cid}_ours"] = ours_text(r._asdict()) + (f"; {parts}" if parts else "")
    return out


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose (mIoU in %); every key exists (NaN when not run). Python
    floats and strings only."""
    nan = math.nan
    out = {"rp_eps": float(profile.paper_eps), "rp_images": str(rp.n_images(profile)),
           "rp_battery_images": str(rp.battery_images(profile, True)),
           "rp_seeds": str(len(rp.seeds(profile))), "rp_wb_steps": str(rp.whitebox_steps(profile)),
           "rp_pgd_steps": str(rp.pgd_steps(profile)), "rp_abl_steps": str(rp.ablation_steps(profile)),
           "rp_arch": rp.at_arch(profile), "rp_surrogate": rp.surrogate(profile),
           "rp_cost_min": float(rp.cost(profile)[["attack_s", "eval_s"]].sum().sum() / 60)}
    try:
        wb = whitebox_table(df)
    except ValueError:
        wb = pd.DataFrame()
    t = rp.whitebox_steps(profile)
    for tag, src in (("clean", rp.at_arch(profile)), ("at", rp.pgd3(rp.at_arch(profile)))):
        for m in rp.FIG2_METHODS:
            ok = (src, m) in wb.index and t in wb.columns
            out[f"rp_wb_{tag}_{m}"] = float(wb.loc[(src, m), t]) if ok else nan
    a = Arms(df, profile)
    src = rp.ablation_sources(profile)[0]
    for key, label in (("full", "T+B+F+Proto"), ("region", rp.RELEASED), ("proto", "Proto (T)")):
        try:
            out[f"rp_abl_{key}"] = float(level(a.ablation(label, src)).value)
        except MissingEvidence:
            out[f"rp_abl_{key}"] = nan
    try:
        bal = a.extra("grad_balance", src, rp.ablation_steps(profile), "ratio")
        out["rp_gb_ratio"] = float(bal.ratio("ratio", "one")[0])
        out["rp_gb_flip"] = float(100 * bal.ratio("flip", "one")[0])
    except MissingEvidence:
        out["rp_gb_ratio"] = out["rp_gb_flip"] = nan
    fr = df[(df["grid"] == "false_region") & (df["metric"] == "false_restored") & (df["iteration"] == t)]["value"]
    out["rp_false_restored"] = float(fr.mean() * 100) if len(fr) else nan
    steps = sorted(profile.rp_battery_pgd_steps)
    col = f"PGD{20 if 20 in steps else steps[-1]}"
    out["rp_at_col"] = col
    for model in rp.battery_models(profile):
        if model.split("@")[0] != rp.at_arch(profile):
            continue
        tag = training(model).replace("-", "").lower()
        out[f"rp_at_{tag}_clean"] = float(_battery_value(df, model, "Clean"))
        out[f"rp_at_{tag}_pgd"] = float(_battery_value(df, model, col))
    for s in ("Standard", *rp.THREE_STEP, "SegPGD7-AT"):
        tag = s.replace("-", "").lower()
        out.setdefault(f"rp_at_{tag}_clean", nan)
        out.setdefault(f"rp_at_{tag}_pgd", nan)
    return out
