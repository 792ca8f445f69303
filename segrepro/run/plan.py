"""What a run will cost, before it starts: ``segrepro plan --profile P [--set ...]``.

For every study the planner lists the grid cells still to compute, the images they attack, the
forward/backward passes (attack: ``steps`` forward + backward passes per image, a no-grad clean
pass for methods that need one; evaluation: one forward pass per image, target, evaluation scale
and snapshot, plus the clean pass), a peak-memory estimate of one batch, and a time estimate from a
short calibration on the current device: a few timed attack iterations of each source at the
profile's batch size and image size (``calibrate``), and timed forward passes of each target.

The estimate is a lower bound of the grids' time (it leaves out model loading and the studies'
non-grid steps: the DS classifier study and the RP-PGD robustness battery), good to a factor of
about 1.5 on CPU where thread timing is noisy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

#: Forward passes of one multi-scale evaluation (``run.evaluate.MS_SCALES``).
MS_FORWARDS = 5


@dataclass
class GridCost:
    """Counted work of one grid (cells still to run only when ``done`` is given)."""

    study: str
    grid: str
    preset: str
    cells: int
    images: int
    attack_passes: int  # forward + backward pairs
    eval_passes: int    # forward passes
    sources: tuple[str, ...]
    targets: tuple[str, ...]


def count(study: str, spec, done: Callable[[str], bool] | None = None) -> GridCost:
    """Cells, images and passes of one ``GridSpec`` (skipping cells for which ``done(key)`` is true)."""
    cells = [c for c in spec.cells() if done is None or not done(c.key)]
    per_eval = sum(MS_FORWARDS if str(s) == "ms" else 1 for s in spec.eval_scales)
    targets = len(spec.all_targets)
    attack = sum(spec.n_images * spec.steps for _ in cells)
    evals = sum(spec.n_images * targets * per_eval * (len(spec.snapshots) + 1) for _ in cells)
    return GridCost(study, spec.grid, spec.preset, len(cells), spec.n_images * len(cells), attack, evals,
                    tuple(spec.sources), tuple(spec.all_targets))


def calibrate(models: Mapping[str, torch.nn.Module], image_size: tuple[int, int], batch_size: int, device,
              num_classes: int, iterations: int = 3) -> dict[str, tuple[float, float]]:
    """Seconds per image of one attack iteration (forward + backward) and of one forward pass, per model.

    Times ``iterations`` iterations after one warm-up, on random inputs of the profile's size.
    """
    out = {}
    for name, model in models.items():
        model = model.to(device).eval()
        x = torch.rand(batch_size, 3, *image_size, device=device)
        y = torch.randint(0, num_classes, (batch_size, *image_size), device=device)

        def step():
            xr = x.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(model(xr), y)
            torch.autograd.grad(loss, xr)

        def forward():
            with torch.no_grad():
                model(x)

        out[name] = (_time(step, iterations, device) / batch_size, _time(forward, iterations, device) / batch_size)
    return out


def _time(fn, iterations: int, device) -> float:
    fn()  # warm-up (allocations, cuDNN autotuning)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iterations):
        fn()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / iterations


def seconds(cost: GridCost, timing: Mapping[str, tuple[float, float]]) -> float:
    """Estimated seconds of a grid from the calibrated per-image costs (sources and targets averaged)."""
    attack = sum(timing[s][0] for s in cost.sources) / len(cost.sources)
    forward = sum(timing[t][1] for t in cost.targets) / len(cost.targets)
    return cost.attack_passes * attack + cost.eval_passes * forward


def peak_bytes(batch_size: int, image_size: tuple[int, int], snapshots: int) -> int:
    """Adversarial images held at once by a streaming cell: one batch per snapshot (float32), plus labels.

    Model activations come on top (about ten times one batch of images for our nets, measured with
    ``benchmarks/grid_memory.py``); the figure does not grow with ``n_images``.
    """
    h, w = image_size
    return batch_size * (3 * h * w * 4 * (snapshots + 2) + h * w * 8)


def table(costs: Sequence[GridCost], timing: Mapping[str, tuple[float, float]] | None):
    """One row per study: cells, images, passes, estimated minutes (needs pandas)."""
    import pandas as pd

    rows = []
    for c in costs:
        rows.append({"study": c.study, "grid": c.grid, "preset": c.preset, "cells": c.cells, "images": c.images,
                     "fwd+bwd (k)": c.attack_passes / 1e3, "fwd (k)": c.eval_passes / 1e3,
                     "minutes": seconds(c, timing) / 60 if timing else float("nan")})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    total = df.groupby("study", sort=False)[["cells", "images", "fwd+bwd (k)", "fwd (k)", "minutes"]].sum()
    return total.reset_index()
