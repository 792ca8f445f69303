"""Tables and figures of notebook ``04_rp_pgd`` from the ``rp_pgd`` study's tidy rows, next to the paper's.

Our models stand in for the paper's (``psp_r18`` for PSPNet-Res50, ``dlv3_r18`` for DeepLabv3-Res50,
``shapes`` for Pascal VOC, ``street`` for Cityscapes); every value is mIoU or MisRatio in %.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from segrepro.report.claims import mean_ci
from segrepro.report.plots import miou_vs_iterations
from segrepro.run.grid import canonical_params
from segrepro.run.zoo import parse_name
from segrepro.studies.rp_pgd import grids as rp

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


def _fmt(values, scale: float = 100.0) -> str:
    vals = [v * scale for v in values if v == v]
    if not vals:
        return "-"
    m, lo, hi = mean_ci(vals)
    return f"{m:.2f}" if math.isnan(lo) else f"{m:.2f} [{lo:.2f}, {hi:.2f}]"


def seed_values(df: pd.DataFrame, grid: str, source: str, method: str = "rp_pgd", params: str | dict = "{}", *,
                target: str | None = None, metric: str = "miou", iteration: int | None = None) -> pd.Series:
    """Per-seed values of one cell (index: seed); ``iteration`` None = the last one stored."""
    params = params if isinstance(params, str) else canonical_params(params)
    rows = df[(df["grid"] == grid) & (df["source"] == source) & (df["target"] == (target or source))
              & (df["method"] == method) & (df["params"] == params) & (df["metric"] == metric)]
    if rows.empty:
        return pd.Series(dtype=float)
    it = rows["iteration"].max() if iteration is None else iteration
    return rows[rows["iteration"] == it].groupby("seed")["value"].mean()


def ablation(df: pd.DataFrame, label: str, source: str, metric: str = "miou") -> pd.Series:
    """Per-seed white-box values of one :data:`~rp_pgd.ABLATIONS` row on ``source``."""
    return seed_values(df, "ablation", source, params=rp.ABLATIONS[label], metric=metric)


# ---------------------------------------------------------------- Fig. 2


def whitebox_table(df: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    """Fig. 2 as numbers: rows ``(source, method)``, columns iterations, mean over seeds (%)."""
    rows = df[(df["grid"] == "whitebox") & (df["metric"] == metric) & (df["method"] != "clean")]
    if rows.empty:
        raise ValueError(f"no white-box {metric} rows (run the rp_pgd study first)")
    t = rows.groupby(["source", "method", "iteration"])["value"].mean().unstack("iteration") * 100
    order = {m: i for i, m in enumerate(rp.FIG2_METHODS)}
    return t.sort_index(key=lambda ix: ix.map(lambda v: order.get(v, v) if isinstance(v, str) and v in order else v))


def whitebox_figure(df: pd.DataFrame, profile):
    """Fig. 2: white-box mIoU (top) and MisRatio (bottom) vs iterations, one column per model."""
    import matplotlib.pyplot as plt

    sources = rp.whitebox_sources(profile)
    fig, axes = plt.subplots(2, len(sources), figsize=(5.2 * len(sources), 7), squeeze=False, constrained_layout=True)
    rows = df[df["grid"] == "whitebox"]
    for j, src in enumerate(sources):
        for i, metric in enumerate(("miou", "mis_ratio")):
            miou_vs_iterations(rows, source=src, method=list(rp.FIG2_METHODS), metric=metric, targets=[src],
                               scale=100.0, ax=axes[i, j])
            axes[i, j].set_title(f"{src} ({training(src)}), white-box {'mIoU' if metric == 'miou' else 'MisRatio'}")
            axes[i, j].set_xticks(rp.snapshots(profile), [str(t) for t in rp.snapshots(profile)])
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
    """Table 1, 2, 3 or the ``prototype_grad`` comparison: our white-box mIoU next to the paper's.

    Args:
        which: ``"table1"``, ``"table2"``, ``"table3"`` or ``"prototype_grad"``.

    Returns:
        One row per variant; per ablation source a column ``ours: <source>`` (mean [95 % CI] over
        seeds) and ``paper: <model>`` (the paper's 100-iteration value, where it has one).
    """
    tables = {"table1": (rp.TABLE1, "rppgd_table1_regions"), "table2": (rp.TABLE2, "rppgd_table2_schedules"),
              "table3": (rp.TABLE3, "rppgd_table3_prototype_regions"), "prototype_grad": (rp.PROTO_GRAD, None)}
    if which not in tables:
        raise ValueError(f"which must be one of {sorted(tables)}, got {which!r}")
    labels, paper = tables[which]
    out = []
    for label in labels:
        rec = {"variant": label, "params": canonical_params(rp.ABLATIONS[label])}
        for src in rp.ablation_sources(profile):
            rec[f"ours: {src}"] = _fmt(ablation(df, label, src).tolist())
            if paper:
                model, trained = paper_model(src)
                rec[f"paper: {model} ({trained})"] = _paper_ablation(paper, src, profile, _paper_key(paper, label))
        out.append(rec)
    return pd.DataFrame(out)


# ---------------------------------------------------------------- Tables 4-6


def battery_rows(df: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    rows = df[(df["grid"] == "at_battery") & (df["metric"] == metric)].copy()
    multi = rows.groupby("method")["iteration"].transform("nunique") > 1
    steps = rows["method"].isin(["PGD", "SegPGD", "CosPGD", "RP-PGD", "CW"]) | multi
    rows["column"] = [f"{m}{t}" if s else m for m, t, s in zip(rows["method"], rows["iteration"], steps)]
    return rows


def at_table(df: pd.DataFrame, arch: str, metric: str = "miou") -> pd.DataFrame:
    """Robust mIoU (%) of ``arch`` and its AT variants: rows AT strategy, columns battery attacks."""
    rows = battery_rows(df, metric)
    rows = rows[rows["source"].map(lambda n: parse_name(n)[0]) == arch]
    if rows.empty:
        raise ValueError(f"no AT battery rows for {arch!r}")
    t = rows.groupby(["source", "column"], sort=False)["value"].mean().unstack("column") * 100
    t.index = [training(n) for n in t.index]
    order = ["Standard", *rp.AT_ORDER]
    t = t.reindex([o for o in order if o in t.index] + [i for i in t.index if i not in order])
    cols = list(dict.fromkeys(rows["column"]))
    return t[cols]


def at_side_by_side(df: pd.DataFrame, profile, arch: str) -> pd.DataFrame:
    """:func:`at_table` with the paper's row under each of ours (same AT strategy, matching attack columns)."""
    from segrepro import paper_values

    ours = at_table(df, arch)
    model = paper_model(arch)[0]
    if model not in AT_TABLES:
        return ours
    p = paper_values.load(AT_TABLES[model])
    p = p[p["dataset"] == DATASETS.get(profile.presets[0], "voc")]
    paper = p.pivot_table(index="at_strategy", columns="attack", values="value", aggfunc="first")
    cw = [c for c in ours.columns if c.startswith("CW")]
    rename = {"CW": cw[-1]} if cw else {}
    paper = paper.rename(columns=rename).reindex(columns=ours.columns)
    rows = []
    for strategy in ours.index:
        rows.append(ours.loc[strategy].rename((strategy, "ours")))
        if strategy in paper.index:
            rows.append(paper.loc[strategy].rename((strategy, "paper")))
    return pd.DataFrame(rows)


def pgd_column(table: pd.DataFrame, at_most: int) -> str:
    """The battery table's longest PGD column of at most ``at_most`` steps (else its shortest)."""
    cols = sorted((int(c[3:]), c) for c in table.columns if c.startswith("PGD") and c[3:].isdigit())
    fit = [c for n, c in cols if n <= at_most] or [cols[0][1]]
    return fit[-1]


def at_targets_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The AT issue's targets per AT model: clean mIoU kept and PGD-20 gain over its clean model (points).

    The PGD column is the battery's longest PGD run of at most 20 steps.
    """
    out = []
    for arch in dict.fromkeys(parse_name(n)[0] for n in rp.battery_models(profile)):
        try:
            t = at_table(df, arch)
        except ValueError:
            continue
        col = pgd_column(t, 20)
        for s in t.index.drop("Standard", errors="ignore"):
            base = t.loc["Standard"] if "Standard" in t.index else pd.Series(math.nan, index=t.columns)
            out.append({"model": f"{arch}@{s}", "clean mIoU": t.loc[s, "Clean"],
                        "clean of Standard (%)": t.loc[s, "Clean"] / base["Clean"] * 100,
                        f"{col} mIoU": t.loc[s, col], f"{col} Standard": base[col],
                        f"{col} gain (points)": t.loc[s, col] - base[col]})
    return pd.DataFrame(out)


def blackbox_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Table 6: transfer mIoU (%) of SegPGD/RP-PGD made on the surrogate, per AT target, with the paper's.

    The paper's rows are its DeepLabv3 targets (surrogate PGD3-AT PSPNet); ours swap the roles (see
    the study module).
    """
    from segrepro import paper_values

    src = rp.surrogate(profile)
    out = []
    p = paper_values.load("rppgd_table6_transfer")
    p = p[p["dataset"] == DATASETS.get(profile.presets[0], "voc")]
    for tgt in rp.blackbox_targets(profile):
        rec = {"target": tgt, "AT strategy": training(tgt)}
        for method, paper_attack in (("segpgd", "SegPGD"), ("rp_pgd", "RP-PGD")):
            rec[f"ours: {paper_attack}"] = _fmt(seed_values(df, "blackbox", src, method, target=tgt).tolist())
            hit = p[(p["at_strategy"] == training(tgt)) & (p["attack"] == paper_attack)]
            rec[f"paper: {paper_attack}100"] = float(hit["value"].iloc[0]) if len(hit) else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def settings_table(profile) -> pd.DataFrame:
    """What this run used (the notebook's first table)."""
    items = {"preset": profile.presets[0], "eps / alpha": f"{profile.paper_eps:g} / {profile.alpha:g}",
             "images per cell": rp.n_images(profile), "seeds": list(rp.seeds(profile)),
             "Fig. 2 models": list(rp.whitebox_sources(profile)), "Fig. 2 iterations": list(rp.snapshots(profile)),
             "ablation models": list(rp.ablation_sources(profile)),
             "ablation iterations": rp.ablation_steps(profile), "ablation seeds": list(rp.grids(profile)[1].seeds),
             "AT models": list(rp.at_variants(profile)), "battery PGD steps": list(profile.rp_battery_pgd_steps),
             "battery SegPGD/CosPGD/RP-PGD/CW steps": list(profile.rp_battery_strong_steps),
             "battery L2-BIM steps": profile.rp_battery_bim_steps,
             "Table 6 surrogate": rp.surrogate(profile), "Table 6 iterations": rp.whitebox_steps(profile)}
    return pd.DataFrame({"setting": list(items), "value": [json.dumps(v) if isinstance(v, list) else v
                                                          for v in items.values()]})


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose (mIoU in %); every key exists (NaN when not run)."""
    nan = math.nan
    out = {"rp_eps": profile.paper_eps, "rp_images": rp.n_images(profile), "rp_seeds": len(rp.seeds(profile)),
           "rp_wb_steps": rp.whitebox_steps(profile), "rp_abl_steps": rp.ablation_steps(profile),
           "rp_arch": rp.at_arch(profile), "rp_surrogate": rp.surrogate(profile)}
    try:
        wb = whitebox_table(df)
    except ValueError:
        wb = pd.DataFrame()
    for tag, src in (("clean", rp.at_arch(profile)), ("at", rp.pgd3(rp.at_arch(profile)))):
        for m in rp.FIG2_METHODS:
            out[f"rp_wb_{tag}_{m}"] = float(wb.loc[(src, m)].iloc[-1]) if (src, m) in wb.index else nan
    src = rp.ablation_sources(profile)[0]
    for key, label in (("full", "T+B+F+Proto"), ("region", "T+B+F"), ("proto", "Proto (T)"),
                       ("nograd", "T+B+F+Proto, prototype_grad=False")):
        out[f"rp_abl_{key}"] = float(ablation(df, label, src).mean() * 100)
    fr = df[(df["grid"] == "false_region") & (df["metric"] == "false_restored")]["value"]
    out["rp_false_restored"] = float(fr.mean() * 100) if len(fr) else nan
    try:
        t = at_table(df, rp.at_arch(profile))
        col = pgd_column(t, 20)
    except (ValueError, IndexError):
        t, col = pd.DataFrame(), "-"
    out["rp_at_col"] = col
    for s in ("Standard", "PGD3-AT", "SegPGD3-AT", "CosPGD3-AT", "RP-PGD3-AT"):
        tag = s.replace("-", "").lower()
        out[f"rp_at_{tag}_clean"] = float(t.loc[s, "Clean"]) if s in t.index else nan
        out[f"rp_at_{tag}_pgd"] = float(t.loc[s, col]) if s in t.index else nan
    return out
