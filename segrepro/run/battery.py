"""The white-box robustness battery of the AT study (RP-PGD paper 004, Tables 4-5), as a tidy table.

Evaluation attacks (all through the one engine, :func:`segrepro.attacks.attack`):

- ``Clean``; ``FGSM`` (one step of size eps);
- ``BIM`` in L2 (Kurakin et al. 2017; the ``bim`` method with the engine's ``step="l2"``): the
  paper's L2 budget is in its Appendix I, which our text lacks, so it is ours: a per-element RMS
  perturbation ``l2_rms = 0.01`` (the L-inf alpha), i.e. ``eps_2 = 0.01 sqrt(3HW)`` (1.66 at
  96x96), step ``eps_2 / 4``, 10 steps;
- ``PGD`` 10/20/40/100, ``SegPGD`` 20/100, ``CosPGD`` 20/100, ``RP-PGD`` 20/100 (L-inf, eps 0.03,
  alpha 0.01);
- ``CW``: the engine's ``cw`` method (``segrepro.attacks.objectives.CWMargin``, Carlini & Wagner
  2017 f6 margin ``min(max_{j != y} z_j - z_y, kappa)`` per pixel, maximised with L-inf PGD steps as
  the "CW-L-inf" attack of robustness benchmarks), ``kappa = 0`` [ours].

DeepFool is left out: each of its iterations linearises every class logit around the current
point (one backward pass per class) and steps to the nearest linearised boundary with a per-sample
minimal-norm step and early stop; that is neither a scalar objective nor a sign/normalised step,
so it does not fit the engine without a second loop.

Schedule-free methods (objective CE, CosPGD or CW) run once to the largest step count and are read
at snapshots (PGD 10/20/40/100 is one 100-step run). SegPGD and RP-PGD schedule their weights over
``T``, so each step count is its own run.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch

from segrepro.attacks import attack, get_method
from segrepro.attacks.methods import Method
from segrepro.attacks.objectives import CosPGD, CrossEntropy, CWMargin
from segrepro.metrics import Counts, predict
from segrepro.train.adversarial import at_name
from segrepro.validation import check_images, check_labels

COLUMNS = ["model", "training_attack", "attack", "steps", "norm", "eps", "miou", "mis_ratio", "n_images",
           "seed", "seconds"]


@dataclass(frozen=True)
class EvalAttack:
    """One attack of the battery, evaluated at one or more step counts.

    Attributes:
        name: the papers' column name (``PGD``, ``BIM``, ...).
        method: engine method name or :class:`Method`; ``None`` for the clean images.
        steps: step counts to report (snapshots of one run when the method is schedule-free).
        norm: ``"linf"`` or ``"l2"`` (the engine's ``step`` option).
        eps, alpha: budget and step size; ``None`` takes the battery's L-inf values.
        params: extra method parameters.
    """

    name: str
    method: "str | Method | None"
    steps: tuple[int, ...] = (0,)
    norm: str = "linf"
    eps: float | None = None
    alpha: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def default_battery(pgd_steps=(10, 20, 40, 100), strong_steps=(20, 100), bim_steps: int = 10,
                    l2_rms: float = 0.01, image_shape=(3, 96, 96), cw: bool = True) -> list[EvalAttack]:
    """The battery of RP-PGD Tables 4-5 (plus FGSM, SegPGD, CosPGD, RP-PGD); step counts are parameters.

    Args:
        pgd_steps: PGD step counts (one run to the largest).
        strong_steps: step counts of SegPGD, CosPGD, RP-PGD and CW (empty: leave them out).
        bim_steps: L2 BIM steps (0: leave it out).
        l2_rms: per-element RMS of the L2 budget, ``eps_2 = l2_rms * sqrt(C*H*W)`` [ours].
        image_shape: ``(C,H,W)`` of the evaluated images (sets ``eps_2``).
        cw: include the CW-style margin attack.

    Returns:
        The list of :class:`EvalAttack`, clean first.
    """
    eps2 = l2_rms * math.sqrt(math.prod(image_shape))
    out = [EvalAttack("Clean", None), EvalAttack("FGSM", "fgsm", (1,))]
    if bim_steps:
        out.append(EvalAttack("BIM", "bim", (bim_steps,), norm="l2", eps=eps2, alpha=eps2 / 4))
    if pgd_steps:
        out.append(EvalAttack("PGD", "pgd", tuple(pgd_steps)))
    strong = tuple(strong_steps)
    if strong:
        out += [EvalAttack("SegPGD", "segpgd", strong), EvalAttack("CosPGD", "cospgd", strong),
                EvalAttack("RP-PGD", "rp_pgd", strong)]
        if cw:
            out.append(EvalAttack("CW", "cw", strong))
    return out


def _schedule_free(method: Method) -> bool:
    """True when the t-th iterate does not depend on T (no lambda_t schedule): snapshots are exact."""
    return isinstance(method.objective, (CrossEntropy, CosPGD, CWMargin)) and not method.one_step


def _runs(item: EvalAttack) -> list[tuple[int, list[int]]]:
    """``(T, snapshots)`` of the engine runs one battery item needs."""
    steps = sorted(set(item.steps))
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in steps):
        raise ValueError(f"battery item {item.name!r} needs positive integer steps, got {item.steps!r}")
    if _schedule_free(get_method(item.method)):
        return [(steps[-1], steps)]
    return [(t, [t]) for t in steps]


def _training_attack(model) -> str:
    meta = getattr(model, "checkpoint_meta", None) or {}
    config = meta.get("train_config")
    return at_name(config) if isinstance(config, Mapping) else "Standard"


def robustness_table(models, images: torch.Tensor, labels: torch.Tensor, battery: list[EvalAttack] | None = None,
                     *, eps: float = 0.03, alpha: float = 0.01, batch_size: int = 16, seed: int = 0,
                     training_attacks: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Evaluate models against the battery: one tidy row per (model, attack, steps).

    Args:
        models: ``{name: SegModel}`` or one model (named ``"model"``). Each is attacked white-box.
        images: evaluation (validation) images, float ``(N,3,H,W)`` in [0,1], on the models' device.
        labels: int64 ``(N,H,W)``, 255 = ignore.
        battery: the attacks; default :func:`default_battery` for these images' shape.
        eps, alpha: L-inf budget and step size [paper: RP-PGD, eps 0.03, alpha 0.01].
        batch_size: images per attack run.
        seed: attack seed (batch ``b`` uses ``seed * 100003 + b``).
        training_attacks: ``{name: "PGD3-AT" ...}``; default from each model's checkpoint meta
            (``Standard`` when it has none).

    Returns:
        DataFrame with :data:`COLUMNS`: ``miou`` and ``mis_ratio`` (fraction of valid pixels
        mispredicted, SegPGD/RP-PGD's MisRatio) over all images; ``steps`` 0 for clean; ``seconds``
        the wall time of the engine run(s) that produced the row (shared by snapshots).

    Raises:
        TypeError/ValueError: invalid images, labels, models or battery.
    """
    if not isinstance(models, Mapping):
        models = {"model": models}
    if not models:
        raise ValueError("robustness_table needs at least one model")
    check_images(images)
    battery = default_battery(image_shape=tuple(images.shape[1:])) if battery is None else list(battery)
    plans = [(item, _runs(item) if item.method is not None else []) for item in battery]
    rows = []
    for name, model in models.items():
        num_classes = getattr(model, "num_classes", None)
        if not isinstance(num_classes, int):
            raise TypeError(f"model {name!r} needs an integer num_classes attribute")
        check_labels(labels, num_classes, images=images)
        trained = (training_attacks or {}).get(name) or _training_attack(model)
        for item, runs in plans:
            rows += _evaluate_item(model, item, runs, images, labels, eps, alpha, batch_size, seed,
                                   dict(model=name, training_attack=trained, n_images=len(images), seed=seed))
    return pd.DataFrame(rows, columns=COLUMNS)


def _evaluate_item(model, item: EvalAttack, runs, images, labels, eps, alpha, batch_size, seed, base) -> list[dict]:
    num_classes = model.num_classes
    e = item.eps if item.eps is not None else eps
    a = item.alpha if item.alpha is not None else alpha
    counts: dict[int, Counts] = {}
    seconds: dict[int, float] = {}
    for b, start in enumerate(range(0, len(images), batch_size)):
        x, y = images[start:start + batch_size], labels[start:start + batch_size]
        if item.method is None:
            outs, took = {0: x}, {0: 0.0}
        else:
            outs, took = {}, {}
            for steps, snaps in runs:
                t0 = time.perf_counter()
                res = attack(model, x, y, item.method, eps=e, alpha=a, steps=steps, snapshots=snaps,
                             seed=seed * 100_003 + b, step=item.norm, **dict(item.params))
                dt = time.perf_counter() - t0
                outs.update(res)
                took.update({t: dt for t in snaps})
        for t, adv in outs.items():
            c = Counts.of(predict(model, adv, batch_size), y, num_classes)
            counts[t] = counts[t] + c if t in counts else c
            seconds[t] = seconds.get(t, 0.0) + took[t]
    return [dict(base, attack=item.name, steps=t, norm=item.norm if item.method is not None else "none",
                 eps=e if item.method is not None else 0.0, miou=counts[t].miou,
                 mis_ratio=counts[t].mis_ratio, seconds=seconds[t]) for t in sorted(counts)]
