"""The figures of notebook ``01_dynamic_scaling``: curves (Figs 1, 3-5, 7), Fig 8 and Fig 6's examples.

Each returns what the notebook shows: a closed Matplotlib figure (the cell's value draws it exactly
once) or, when this profile ran no such rows, a Markdown note saying so.
"""
from __future__ import annotations

import pandas as pd

from segrepro.studies.dynamic_scaling.grids import DS, NAME, psp_source, transfer_grids, vgg_source
from segrepro.studies.dynamic_scaling.report import lambda_rows, lambda_table, without_at


def _shown(fig):
    """Close ``fig`` for the inline backend and return it: the cell's value then draws it exactly once."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


def _note(err: Exception):
    from IPython.display import Markdown

    return Markdown(f"*Not computed with this run's settings: {err}.*")


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
