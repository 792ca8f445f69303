"""Figures of notebook ``01_dynamic_scaling``, drawn with ``segrepro.plots``: curves vs iterations
(Figs 1, 3-5, 7), and the Fig 6-style visual grid (FS and DS examples with each target's prediction).
Fig 8 is ``segrepro.plots.param_ablation`` directly.

The paper's figures give no numbers (``segrepro/paper_values/README.md``), so the curves show ours only;
where a paper table gives the matching number (Tables 1-4), the tables carry it.
"""
from __future__ import annotations

import pandas as pd


def curves_figure(df: pd.DataFrame, grid: str, *, method: str, eps: float, preset: str | None = None,
                  metric: str = "miou", sources=None, title: str = ""):
    """One panel per source of ``segrepro.plots.miou_vs_iterations`` on one grid (Figs 1, 3-5, 7).

    Args:
        df: The study's rows. grid: ``"transfer"``, ``"long"`` or ``"classification"``.
        method: ``"bim"`` (FS) or ``"ds"``. eps, preset: Filters. metric: ``"miou"`` or ``"accuracy"``.
        sources: Panels (default: every source of the grid). title: Figure title.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    from segrepro import plots
    from segrepro.experiments.tables import select

    rows = select(df, grid=grid, method=method, preset=preset, eps=eps, metric=metric)
    sources = list(sources or dict.fromkeys(rows["source"]))
    if rows.empty or not sources:
        raise ValueError(f"no {metric} rows in grid {grid!r} for method={method!r}, eps={eps}, preset={preset!r}")
    fig, axes = plt.subplots(1, len(sources), figsize=(4.2 * len(sources), 3.2), squeeze=False,
                             constrained_layout=True)
    for ax, src in zip(axes[0], sources):
        plots.miou_vs_iterations(rows, source=src, metric=metric, ax=ax)
        ax.set_title(f"source {src}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


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

    from segrepro.experiments import evaluation as ev
    from segrepro.experiments.grid import Cell
    from segrepro.experiments.runner import results_path
    from segrepro.experiments.studies.dynamic_scaling import DS, FS, transfer_grids, vgg_source

    preset = preset or profile.presets[0]
    source = source or vgg_source(profile)
    specs = [g for g in transfer_grids(profile) if g.preset == preset]
    images, labels = zoo.data(preset, n)
    out = {"clean": images, "labels": labels, "adv": {}, "pred": {}, "preset": preset, "source": source}
    folder = results_path(profile, "dynamic_scaling").parent / "examples"
    for spec in specs:
        method = spec.methods[0]
        cell = Cell(spec, source, method, float(eps), spec.seeds[0])
        path = folder / f"{cell.key}.pt"
        saved = ev.load_examples(path) if path.is_file() else None
        if saved is not None and saved["adv"].shape[0] >= n and torch.allclose(saved["clean"][:n], images, atol=2e-3):
            adv = saved["adv"][:n]
        else:
            from segrepro.attacks import attack

            model = zoo.model(preset, source)
            dev = next(model.parameters()).device
            adv = attack(model, images.to(dev), labels.to(dev), method.name, eps=float(eps), alpha=spec.alpha,
                         steps=spec.steps, seed=cell.seed * 1_000_003, **dict(method.params)).cpu()
        out["adv"][method.name] = adv
    for name in dict.fromkeys((*profile.targets, source)):
        model = zoo.model(preset, name)
        dev = next(model.parameters()).device
        for method, x in (("clean", images), *out["adv"].items()):
            with torch.no_grad():
                out["pred"][(method, name)] = ev.predict(model, x.to(dev)).cpu()
    return out


def fig6(examples: dict, n: int = 2):
    """Fig 6 style: for each image, an FS row and a DS row (``segrepro.plots.adversarial_grid``) with every
    target's prediction on the adversarial image and on the clean one."""
    import torch

    from segrepro import plots
    from segrepro.experiments.tables import paper_name

    methods = list(examples["adv"])
    n = min(n, examples["clean"].shape[0])
    order = [(i, m) for i in range(n) for m in methods]
    clean = torch.stack([examples["clean"][i] for i, _ in order])
    adv = torch.stack([examples["adv"][m][i] for i, m in order])
    labels = torch.stack([examples["labels"][i] for i, _ in order])
    targets = list(dict.fromkeys(t for (_, t) in examples["pred"]))
    preds = {}
    for t in targets:
        mark = " (source)" if t == examples["source"] else ""
        preds[f"{t}{mark}"] = torch.stack([examples["pred"][(m, t)][i] for i, m in order])
    for t in targets:
        preds[f"{t} on clean"] = torch.stack([examples["pred"][("clean", t)][i] for i, _ in order])
    fig = plots.adversarial_grid(clean, adv, labels, preds, preset=examples["preset"], n=len(order))
    cols = 4 + len(preds)
    for r, (i, m) in enumerate(order):
        fig.axes[r * cols].set_ylabel(f"#{i} {paper_name(m)}", fontsize=8)
    return fig
