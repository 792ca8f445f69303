"""Adversarial training (AT): half-clean / half-adversarial batches and the AT configurations.

Setting (spec/methods.md, "Adversarial training"; RP-PGD paper 004, Sec. "Adversarial Training with
RP-PGD", after DDC-AT, Xu et al. ICCV 2021): every training batch keeps its first half clean and
replaces its second half by adversarial examples of the *training attack* (``pgd``, ``segpgd``,
``cospgd`` or ``rp_pgd``; ``T = 3`` by default, 7 as the option; L-inf ``eps = 0.03``,
``alpha = 0.01``), made on the fly from the current model in eval mode (BN running statistics,
no dropout); the update then runs in train mode with cross-entropy on the whole batch. This solves
the min-max problem of RP-PGD Eq. 1 with the inner maximum approximated by ``T`` attack steps.

Fine-tuning [ours]: on a CPU budget AT starts from the cached clean checkpoint
(``TrainConfig.init_from`` = the clean config's key, see :func:`at_config`) instead of from scratch;
the papers train from ImageNet-pretrained backbones. The config's key covers ``at_method``,
``at_steps``, ``at_eps``, ``at_alpha`` and ``init_from``, so every AT variant is its own cache entry.

Names follow the papers: ``PGD3-AT``, ``SegPGD3-AT``, ``CosPGD3-AT``, ``RP-PGD3-AT`` (and ``...7-AT``);
a clean-trained model is ``Standard`` (RP-PGD Tables 4-5).

Example:
    >>> clean = TrainConfig(model="psp_r18", preset="shapes", size=96, epochs=6, train_length=1500)
    >>> cfg = at_config(clean, "rp_pgd", steps=3)
    >>> at_name(cfg)
    'RP-PGD3-AT'
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch

from ..attacks import attack
from ..models.wrap import SegModel

#: Engine method -> the papers' name of the training attack.
AT_METHODS = {"pgd": "PGD", "segpgd": "SegPGD", "cospgd": "CosPGD", "rp_pgd": "RP-PGD"}

#: Fine-tuning recipe at embedded scale (``shapes``, 96 px, width 16), overrides of the clean
#: TrainConfig: one epoch of 1000 images at the clean peak lr (3e-3, one-cycle). Measured with
#: ``benchmarks/at_cost.py``-style runs (psp_r18, 32 val images, eps 0.03): 960 images at lr 3e-3 kept
#: 78 % of the clean mIoU and gained +9.0 PGD-20 mIoU points; lr 1e-3 kept 93 % but gained +4.4.
AT_RECIPE: dict[str, Any] = {"epochs": 1, "train_length": 1000}


def _method_name(method: str) -> str:
    """Engine name of a training attack given as engine name (``rp_pgd``) or paper name (``RP-PGD``)."""
    if not isinstance(method, str):
        raise TypeError(f"the training attack must be a name, got {type(method).__name__}")
    by_paper = {v.lower(): k for k, v in AT_METHODS.items()}
    name = by_paper.get(method.lower(), method.lower())
    if name not in AT_METHODS:
        raise ValueError(f"unknown training attack {method!r}; valid: {sorted(AT_METHODS)} "
                         f"(or the papers' names {sorted(AT_METHODS.values())})")
    return name


def split_sizes(batch_size: int) -> tuple[int, int]:
    """``(n_clean, n_adv)`` of an AT batch: the clean first half gets the odd image, ``n_adv = B // 2``."""
    return batch_size - batch_size // 2, batch_size // 2


def adversarial_batch(model: SegModel, images: torch.Tensor, labels: torch.Tensor, config,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace the second half of a training batch by adversarial examples of the training attack.

    The attack runs through :func:`segrepro.attacks.attack` (its own eval-mode context, gradients
    w.r.t. the input only, so nothing lands in the parameters' ``.grad``); the model's mode is
    restored afterwards for the update. Labels are unchanged: the adversarial half keeps its
    ground truth (Eq. 1 of the RP-PGD paper, outer minimum).

    Args:
        model: the model being trained (any mode; restored on return).
        images: the (augmented) training batch, float ``(B,3,H,W)`` in [0,1], ``B >= 2``.
        labels: its labels, int64 ``(B,H,W)``, 255 = ignore.
        config: a ``TrainConfig`` with ``at_method`` (engine or paper name), ``at_steps``,
            ``at_eps``, ``at_alpha`` and ``seed``.
        generator: the epoch's CPU generator; one draw seeds the attack (random start), so a
            resumed run makes the same examples. ``None``: seed from ``config.seed``.

    Returns:
        ``(images', labels)``: ``images'[:n_clean]`` is ``images[:n_clean]`` untouched,
        ``images'[n_clean:]`` the adversarial examples (detached), with ``split_sizes(B)``.

    Shape:
        images ``(B,3,H,W)``, labels ``(B,H,W)`` -> the same shapes.

    Raises:
        ValueError: unknown training attack, or a batch of fewer than 2 images.
    """
    method = _method_name(config.at_method)
    if images.dim() != 4 or images.shape[0] < 2:
        raise ValueError(f"adversarial training needs batches of at least 2 images (half clean, half "
                         f"adversarial), got images of shape {tuple(images.shape)}")
    n_clean, _ = split_sizes(images.shape[0])
    if generator is not None:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    else:
        seed = int(config.seed)
    was_training = model.training
    try:
        adv = attack(model, images[n_clean:].detach(), labels[n_clean:], method, eps=config.at_eps,
                     alpha=config.at_alpha, steps=config.at_steps, seed=seed)
    finally:
        model.train(was_training)
    return torch.cat([images[:n_clean], adv.detach()]), labels


def at_name(config: Any) -> str:
    """The papers' name of how a model was trained: ``"PGD3-AT"``, ..., or ``"Standard"`` (clean).

    Args:
        config: a ``TrainConfig``, or a mapping with ``at_method`` and ``at_steps`` (e.g. the
            ``train_config`` recorded in a checkpoint's meta).
    """
    fields = config if isinstance(config, Mapping) else dataclasses.asdict(config)
    method = fields.get("at_method")
    if not method:
        return "Standard"
    return f"{AT_METHODS[_method_name(method)]}{fields.get('at_steps', 3)}-AT"


def at_config(base, method: str, steps: int = 3, **overrides: Any):
    """The fine-tuning ``TrainConfig`` of an AT variant of a clean config.

    ``init_from`` is the clean config's key, so :func:`segrepro.train.get_model` trains (or loads)
    the clean model's cache entry first and fine-tunes from it. Equal to what
    ``segrepro.run.zoo.train_config`` builds for ``"<arch>@<ATTACK><T>-AT"`` with
    ``profile.at_train = {**AT_RECIPE, ...}``.

    Args:
        base: the clean ``TrainConfig`` (``at_method`` None).
        method: training attack, engine name (``pgd``, ``segpgd``, ``cospgd``, ``rp_pgd``) or paper
            name (``PGD``, ``SegPGD``, ``CosPGD``, ``RP-PGD``).
        steps: ``T`` of the training attack (3 or 7 in the papers).
        **overrides: other ``TrainConfig`` fields (``epochs``, ``lr``, ``at_eps``, ...); the
            defaults are :data:`AT_RECIPE`.

    Returns:
        A new ``TrainConfig``.

    Raises:
        ValueError: ``base`` is itself adversarially trained, unknown method, or bad ``steps``.
    """
    if getattr(base, "at_method", None):
        raise ValueError(f"at_config needs a clean base config; this one is already {at_name(base)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    valid = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {unknown}; valid: {sorted(valid)}")
    fields = {**AT_RECIPE, **overrides, "at_method": _method_name(method), "at_steps": steps,
              "init_from": base.key()}
    return dataclasses.replace(base, **fields)

