"""Pixel objectives: plain CE, SegPGD, CosPGD, TranSegPGD, RP-PGD and the CW-style margin.

The equation-level functions live in :mod:`segrepro.attacks.weights` and are re-exported here
(``segpgd_weights``, ``cospgd_weights``, ``weighted_ce``, ``rppgd_lambdas``, ``prototype_loss``,
...). This module adds the objective *parts* the engine composes; their per-run state lives in the
:class:`~segrepro.attacks.context.AttackContext`.
"""
from __future__ import annotations

import math

import torch

from segrepro.attacks.context import AttackContext
from segrepro.attacks.parts import Objective, Param, in_range, one_of
from segrepro.attacks.weights import (class_argmax, cospgd_weights, cw_margin, pixel_ce, pixel_kl, prototype_loss, rppgd_lambdas,
                                      rppgd_regions, rppgd_update, segpgd_weights, transegpgd_stage1_weights,
                                      transegpgd_stage2_split, transegpgd_stage2_weights, weighted_ce)
from segrepro.validation import IGNORE_INDEX

__all__ = ["class_argmax", "pixel_ce", "weighted_ce", "segpgd_weights", "cospgd_weights", "transegpgd_stage1_weights",
           "pixel_kl", "transegpgd_stage2_split", "transegpgd_stage2_weights", "rppgd_lambdas", "rppgd_update", "rppgd_regions",
           "prototype_loss", "cw_margin", "transegpgd_stage2_flags", "CrossEntropy", "SegPGD", "CosPGD",
           "TranSegPGD", "RPPGD", "CWMargin"]


class CrossEntropy(Objective):
    """Mean per-pixel CE over valid pixels (DS paper Eq. 4; BIM/PGD/FGSM)."""

    name = "ce"

    def loss(self, logits, labels, features, ctx, geometry):
        return weighted_ce(logits, labels)


class SegPGD(Objective):
    """SegPGD (Gu et al., ECCV 2022; spec "Baselines"): ``lambda_t = (t-1)/(2T)`` with ``T = steps``."""

    name = "segpgd"

    def loss(self, logits, labels, features, ctx, geometry):
        return weighted_ce(logits, labels, segpgd_weights(logits.detach(), labels, ctx.t, ctx.steps))


class CosPGD(Objective):
    """CosPGD (Agnihotri et al., ICML 2024): CE weighted by ``cos(softmax(z), onehot(y))``, detached."""

    name = "cospgd"

    def loss(self, logits, labels, features, ctx, geometry):
        return weighted_ce(logits, labels, cospgd_weights(logits.detach(), labels))


class CWMargin(Objective):
    """CW-style margin (Carlini & Wagner 2017, f6; :func:`~segrepro.attacks.weights.cw_margin`).

    Maximised with L-inf PGD steps, as the "CW-L-inf" attack of robustness benchmarks (RP-PGD
    Tables 4-5). The original CW is an L2 optimisation (Adam on a tanh change of variable with a
    binary search over the trade-off ``c``), not a projected-gradient loop; its loss is what
    "CW-style" keeps.
    """

    name = "cw"
    params = {"kappa": Param(0.0, "[ours; CW's confidence kappa]", "margin at which a pixel stops counting",
                             in_range(0.0, math.inf))}

    def loss(self, logits, labels, features, ctx, geometry):
        return cw_margin(logits, labels, ctx.params["kappa"])


@torch.no_grad()
def transegpgd_stage2_flags(stage2: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, t: int, T: int,
                            switch: str = "half", *, correct: torch.Tensor | None = None) -> torch.Tensor:
    """TranSegPGD's per-image stage flag after iteration ``t``'s predictions (switch rule ours).

    An image enters stage 2 (sticky) once none of its valid pixels is correctly predicted; with
    ``switch="half"`` every image also enters it at ``t = ceil(T/2) + 1``. Per image, so that an
    image's trajectory does not depend on the rest of its batch; a tensor flag, so no host sync.
    ``correct`` may pass the precomputed mask of correctly predicted valid pixels.

    Shape: ``(N,), (N,C,H,W), (N,H,W) -> (N,)`` bool.
    """
    if switch == "half" and t >= math.ceil(T / 2) + 1:
        return torch.ones_like(stage2)
    if correct is None:
        correct = (class_argmax(logits) == labels) & (labels != IGNORE_INDEX)
    return stage2 | ~correct.flatten(1).any(1)


class TranSegPGD(Objective):
    """TranSegPGD (arXiv 2312.02207; weights, switch and KL split per ``spec/methods.md``, ours).

    Stage 1 weights pixels by correctness (``gamma``), stage 2 by transferability:
    ``KL(softmax(z_clean) || softmax(z_adv))`` above the image's mean KL gets ``1 - beta``.
    Under an input transform the clean logits are carried to the transformed grid with the same
    geometry, bilinearly. The clean logits cost no extra forward when ``x_0`` is the clean image
    (no random start, no input transform): the engine keeps the first iteration's logits.
    """

    name = "transegpgd"
    needs_clean_logits = True
    params = {
        "gamma": Param(0.1, "[ours]", "stage-1 weight of the non-favoured pixels", in_range(0.0, 1.0)),
        "beta": Param(0.1, "[ours]", "stage-2 weight of low-KL pixels", in_range(0.0, 1.0)),
        "stage1_favour": Param("correct", "[ours: abstract; the summary says 'wrong']",
                               "stage-1 pixels weighted 1 - gamma", one_of("correct", "wrong")),
        "switch": Param("half", "[ours]", "stage 2 at ceil(T/2)+1 or once all fooled ('all_fooled': only then)",
                        one_of("half", "all_fooled")),
    }

    def setup(self, ctx):
        ctx.stage2 = torch.zeros(ctx.images.shape[0], dtype=torch.bool, device=ctx.device)

    def loss(self, logits, labels, features, ctx, geometry):
        p = ctx.params
        # one log_softmax serves the CE, the predictions and the KL
        log_q = logits.log_softmax(1)
        with torch.no_grad():
            adv = log_q.detach()
            # KL(p || q) = sum_c p (log p - log q); p and log p are fixed, so without an input
            # transform they are computed once (saves an exp and a log_softmax per iteration)
            if geometry is not None:
                log_p = geometry.apply(ctx.clean_logits, "map").log_softmax(1)
                probs = log_p.exp()
            else:
                if ctx.clean_probs is None:
                    ctx.clean_log_probs = ctx.clean_logits.log_softmax(1)
                    ctx.clean_probs = ctx.clean_log_probs.exp()
                log_p, probs = ctx.clean_log_probs, ctx.clean_probs
            kl = (probs * (log_p - adv)).sum(1)
            w2 = transegpgd_stage2_split(kl, labels, p["beta"])
            half = p["switch"] == "half" and ctx.t >= math.ceil(ctx.steps / 2) + 1
            if half:  # every image is in stage 2: stage 1 need not be computed
                ctx.stage2 = torch.ones_like(ctx.stage2)
                weights = w2
            else:
                correct = (class_argmax(adv) == labels) & (labels != IGNORE_INDEX)
                ctx.stage2 = transegpgd_stage2_flags(ctx.stage2, adv, labels, ctx.t, ctx.steps, p["switch"],
                                                     correct=correct)
                w1 = transegpgd_stage1_weights(adv, labels, p["gamma"], p["stage1_favour"], correct=correct)
                weights = torch.where(ctx.stage2[:, None, None], w2, w1)
        return weighted_ce(log_q, labels, weights, log_probs=True)


_REGIONS = ("true", "boundary", "false")


def _regions_check(value) -> str | None:
    ok = isinstance(value, (tuple, list)) and all(v in _REGIONS for v in value) and len(set(value)) == len(value)
    return None if ok else f"must be a tuple of distinct names from {list(_REGIONS)}, got {value!r}"


def _lambdas_check(value) -> str | None:
    ok = isinstance(value, (tuple, list)) and len(value) == 3 and all(
        isinstance(v, (int, float)) and v >= 0 for v in value)
    return None if ok else f"must be three non-negative numbers (lambda1, lambda2, lambda3), got {value!r}"


class RPPGD(Objective):
    """RP-PGD (AAAI 2025, Eqs. 3-7, Alg. 1): ``L_RP = beta L_R + (1 - beta) L_P``.

    Regions use the predictions of ``x_{i-1}`` from this iteration's forward (plus one no-grad clean
    forward before the loop); ``i = t``, ``N = steps``. The region memory lives on the native grid,
    so RP-PGD does not compose with geometry-changing input transforms.
    """

    name = "rp_pgd"
    needs_features = True
    needs_clean_logits = True
    geometry_safe = False
    params = {
        "rp_beta": Param(0.75, "[paper: RP-PGD Eq. 7, App. D]", "weight of L_R against L_P", in_range(0.0, 1.0)),
        "prototype_grad": Param(False, "[released code: features detached; spec RP-PGD]",
                                "keep the features' gradient in L_P (True: our ablation)", one_of(True, False)),
        "regions": Param(_REGIONS, "[paper: RP-PGD Table 1]", "regions entering L_R", _regions_check),
        "schedule": Param("dynamic", "[paper: RP-PGD Eq. 4, Table 2]",
                          "'dynamic' = Eq. 4; 'constant' = the fixed `lambdas`", one_of("dynamic", "constant")),
        "lambdas": Param((0.4, 0.4, 0.2), "[paper: RP-PGD Table 2, group 2]",
                         "fixed (lambda1, lambda2, lambda3) for schedule='constant'", _lambdas_check),
        "prototype_regions": Param(("true",), "[paper: RP-PGD Eq. 5, Table 3]",
                                   "regions whose pixels form the prototypes", _regions_check),
    }

    def setup(self, ctx):
        ctx.clean_correct = ctx.ever_wrong = None

    def loss(self, logits, labels, features, ctx, geometry):
        p = ctx.params
        with torch.no_grad():
            if ctx.clean_correct is None:  # clean logits are ready by the first loss (see the engine)
                ctx.clean_correct = (class_argmax(ctx.clean_logits) == labels) & (labels != IGNORE_INDEX)
                ctx.ever_wrong = torch.zeros_like(ctx.clean_correct)
            ctx.ever_wrong = rppgd_update(ctx.ever_wrong, ctx.clean_correct, class_argmax(logits), labels)
            masks = dict(zip(_REGIONS, rppgd_regions(ctx.clean_correct, ctx.ever_wrong, labels)))
            lams = rppgd_lambdas(ctx.t, ctx.steps) if p["schedule"] == "dynamic" else tuple(p["lambdas"])
            w = torch.zeros_like(logits[:, 0], dtype=torch.float32)
            for name, lam in zip(_REGIONS, lams):
                if name in p["regions"]:
                    w = w + lam * masks[name]
        loss = weighted_ce(logits, labels, w)
        # With detached features L_P is a constant of x: it cannot move the sign step, so skip it.
        if p["rp_beta"] < 1 and p["prototype_grad"]:
            proto_mask = torch.zeros_like(ctx.clean_correct)
            for name in p["prototype_regions"]:
                proto_mask = proto_mask | masks[name]
            l_p = prototype_loss(features.float(), labels, proto_mask, num_classes=ctx.num_classes)
            loss = p["rp_beta"] * loss + (1 - p["rp_beta"]) * l_p
        return loss
