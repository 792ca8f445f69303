"""The one iteration loop every attack method runs through.

Per iteration ``t = 1..`` (``x_0`` the clean image or the random start):

1. input transforms ``(x', y', geometry) = T(x_{t-1}, y)``, in order;
2. one forward (``forward_with_features`` when the objective needs features);
3. the objective ``L(logits, y', features, ctx, geometry)`` (weights under ``no_grad``);
4. ``g = d L / d x_{t-1}`` by ``torch.autograd.grad`` w.r.t. the input only, so nothing accumulates
   in the model's ``.grad``; gradient transforms, in order;
5. the step and projection (L-inf sign step by default).

No host sync happens inside the loop: sizes and permutations of the input transforms come from
a CPU generator, TranSegPGD's stage switch is a per-image tensor flag, and snapshots keep device
tensors. The value checks that need a sync run once at entry.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from segrepro.attacks.context import AttackContext
from segrepro.attacks.methods import Method, get_method
from segrepro.attacks.steps import get_step
from segrepro.models.wrap import eval_mode, param_dtype  # noqa: F401  (eval_mode re-exported)
from segrepro.validation import check_images, check_labels, check_logits


def _check_number(name: str, value, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and lo < value <= hi):
        raise ValueError(f"{name} must lie in ({lo}, {hi}], got {value}")
    return float(value)


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int, got {type(steps).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return steps


def _check_snapshots(snapshots: Iterable[int] | None, steps: int) -> list[int]:
    if snapshots is None:
        return []
    if isinstance(snapshots, (int, str)) or not isinstance(snapshots, Iterable):
        raise TypeError(f"snapshots must be a list of iterations, got {snapshots!r}")
    snaps = list(snapshots)
    if not snaps:
        raise ValueError("snapshots must name at least one iteration")
    for t in snaps:
        if isinstance(t, bool) or not isinstance(t, int):
            raise TypeError(f"snapshot iterations must be ints, got {t!r}")
        if not 1 <= t <= steps:
            raise ValueError(f"snapshot iteration {t} is outside 1..steps={steps}")
    return sorted(set(snaps))


def attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, method: "str | Method", *,
           eps: float = 0.03, alpha: float = 0.01, steps: int = 10, snapshots: Iterable[int] | None = None,
           seed: int = 0, **params):
    """Make adversarial examples for a segmentation model with a named or composed method.

    Args:
        model: a model following the segrepro contract (``SegModel``): images in [0,1] to logits at
            the input size; ``forward_with_features`` for RP-PGD.
        images: clean images, float ``(N,3,H,W)`` in [0,1], finite (NaN/Inf are rejected). Another
            float dtype than the model's parameters (float64, float16) is cast to the model's dtype,
            which is also the dtype of the result.
        labels: int64 ``(N,H,W)``, 255 = ignore.
        method: a name from :func:`available`, a composition such as ``"transegpgd+mi"``, or a
            :class:`Method`.
        eps: radius of the threat model (L-inf by default) [paper: DS, RP-PGD: 0.03].
        alpha: step size [paper: DS, RP-PGD: 0.01]. FGSM uses ``alpha = eps`` and one step.
        steps: ``T``, the number of iterations and the length of schedules (SegPGD's
            ``lambda_t``, TranSegPGD's switch at ``ceil(T/2)+1``, RP-PGD's ``N``).
        snapshots: iterations ``t`` (each in ``1..steps``) to return from a single run that stops at
            ``max(snapshots)``; schedules still use ``T = steps``. For schedule-free methods the
            snapshot at ``t`` equals a separate run with ``steps=t``; for SegPGD, TranSegPGD and
            RP-PGD it is the ``t``-th iterate of the ``steps``-long schedule.
        seed: seeds a generator on the images' device (random start) and a CPU generator (DS
            scale, DI size/offset, SegTrans grid/permutation): the same seed gives the same result.
        **params: method parameters (see :func:`segrepro.attacks.methods.describe`) and engine
            options ``step="linf"|"l2"``, ``random_start=None|True|False``, ``amp=False``.

    Returns:
        The adversarial images ``(N,3,H,W)``, or ``{t: images}`` when ``snapshots`` is given.

    Gradients are enabled inside, as AutoAttack does, so ``attack`` also works when called under
    ``torch.no_grad()`` or ``torch.inference_mode()`` (tensors made in inference mode are cloned
    into normal ones; the result is a normal tensor).

    Example:
        >>> adv = attack(model, x, y, "ds+mi", steps=20, lam=0.3)  # doctest: +SKIP
    """
    m = get_method(method)
    p = m.resolve(params)
    step = get_step(p["step"])
    eps = _check_number("eps", eps, 0.0, 1.0 if step.name == "linf" else math.inf)
    alpha = _check_number("alpha", alpha, 0.0, math.inf)
    steps = _check_steps(steps)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if m.one_step:
        steps, alpha = 1, eps
    snaps = _check_snapshots(snapshots, steps)
    num_classes = getattr(model, "num_classes", None)
    check_images(images)
    check_labels(labels, num_classes, images=images)
    if labels.device != images.device:
        raise ValueError(f"labels are on {labels.device} but images on {images.device}")
    if m.objective.needs_features and not callable(getattr(model, "forward_with_features", None)):
        raise TypeError(f"method {m.name!r} needs model.forward_with_features(x) -> (logits, features) "
                        f"(the SegModel contract); {type(model).__name__} has none")

    # the loop needs autograd whatever the caller's grad mode (as AutoAttack does); tensors made in
    # inference mode cannot be saved for backward, so they are cloned outside it
    with torch.inference_mode(False), torch.enable_grad(), eval_mode(model):
        images = images.clone() if images.is_inference() else images
        labels = labels.clone() if labels.is_inference() else labels
        images = images.detach().to(param_dtype(model, images.dtype))  # float64/float16 -> model dtype
        ctx = AttackContext(model=model, images=images, labels=labels, num_classes=num_classes,
                            eps=eps, alpha=alpha, steps=steps, params=p,
                            generator=torch.Generator(device=images.device).manual_seed(seed),
                            host_generator=torch.Generator().manual_seed(seed), amp=p["amp"])
        random_start = m.random_start if p["random_start"] is None else p["random_start"]
        return _loop(m, ctx, step, random_start, snaps)


def _loop(m: Method, ctx: AttackContext, step, random_start: bool, snaps: list[int]):
    x0 = ctx.images
    x = step.start(x0, ctx.eps, ctx.generator) if random_start else x0.clone()
    bounds = step.bounds(x0, ctx.eps) if step.bounds is not None else None
    # x_0 is the clean image: the first forward gives the clean logits for free
    reuse_first = not random_start and not m.inputs
    if ctx.num_classes is None or (m.objective.needs_clean_logits and not reuse_first):
        ctx.clean_logits_once()
        ctx.num_classes = ctx.num_classes or ctx.clean_logits.shape[1]
    for part in (m.objective, *m.grads):
        part.setup(ctx)
    forward = ctx.model.forward_with_features if m.objective.needs_features else None
    out: dict[int, torch.Tensor] = {}
    for t in range(1, (snaps[-1] if snaps else ctx.steps) + 1):
        ctx.t = t
        x_var = x.detach().requires_grad_(True)
        xt, yt, geometry = x_var, ctx.labels, None
        for transform in m.inputs:
            xt, yt, g = transform.apply(xt, yt, ctx)
            geometry = g if geometry is None else geometry.then(g)
        with ctx.autocast():
            logits, features = forward(xt) if forward is not None else (ctx.model(xt), None)
        check_logits(logits, xt, ctx.num_classes)
        if ctx.clean_logits is None and reuse_first and m.objective.needs_clean_logits:
            ctx.clean_logits = logits.detach().float()
        loss = m.objective.loss(logits.float(), yt, features, ctx, geometry)
        (grad,) = torch.autograd.grad(loss, x_var)
        for transform in m.grads:
            grad = transform.apply(grad, ctx)
        x = step.update(x, grad, x0, ctx.eps, ctx.alpha, bounds)
        if t in snaps:
            out[t] = x
    return out if snaps else x
