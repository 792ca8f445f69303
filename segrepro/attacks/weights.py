"""Per-pixel weights, the weighted cross-entropy and RP-PGD's regions, schedule and prototypes.

Pure functions of tensors, written from the equations (see ``shared/spec/methods.md``).
Weights are constants of the backward pass: they are computed under ``torch.no_grad()`` and are 0
on ignored pixels (label 255). Every pixel objective is ``sum_i w_i CE_i / N_valid``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from segrepro.metrics import class_argmax  # noqa: F401  (used here and re-exported)
from segrepro.validation import IGNORE_INDEX


def pixel_ce(logits: torch.Tensor, labels: torch.Tensor, *, log_probs: bool = False) -> torch.Tensor:
    """Per-pixel cross-entropy ``CE_i``, 0 on ignored pixels. Shape: ``(N,C,H,W), (N,H,W) -> (N,H,W)``.

    With ``log_probs=True`` the first argument already holds ``log_softmax(logits)`` (an objective
    that needs the log-probabilities for its weights computes them once).
    """
    if log_probs:
        return F.nll_loss(logits, labels, ignore_index=IGNORE_INDEX, reduction="none")
    return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="none")


def weighted_ce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None, *,
                log_probs: bool = False) -> torch.Tensor:
    """``L = sum_i w_i CE_i / N_valid`` (the spec's convention for every pixel objective).

    The papers write ``1/HW``; dividing by the number of non-ignored pixels of the batch instead
    changes only a constant (a sign step ignores it). ``N_valid`` is clamped at 1 so a batch
    without valid pixels yields 0, not NaN.

    Args:
        logits: ``(N,C,H,W)``.
        labels: ``(N,H,W)`` int64, 255 = ignore.
        weights: ``(N,H,W)``; ``None`` means 1 everywhere (plain CE of BIM/PGD, DS Eq. 4).
        log_probs: ``logits`` already holds log-probabilities.

    Returns:
        A scalar tensor.
    """
    ce = pixel_ce(logits, labels, log_probs=log_probs)
    n_valid = (labels != IGNORE_INDEX).sum().clamp(min=1)
    total = ce.sum() if weights is None else (weights * ce).sum()
    return total / n_valid


def cw_margin(logits: torch.Tensor, labels: torch.Tensor, kappa: float = 0.0) -> torch.Tensor:
    """CW-style margin (Carlini & Wagner 2017, f6), mean over valid pixels of ``min(max_{j!=y} z_j - z_y, kappa)``.

    Maximising it pushes the best wrong logit above the true one, up to the confidence ``kappa``.
    Ignored pixels (label 255) count nowhere; a batch without valid pixels gives 0.

    Shape: logits ``(N,C,H,W)``, labels ``(N,H,W)`` -> scalar.
    """
    valid = labels != IGNORE_INDEX
    target = labels.clamp(0, logits.shape[1] - 1)
    true = logits.gather(1, target[:, None])[:, 0]
    others = logits.scatter(1, target[:, None], -torch.inf).amax(1)
    margin = (others - true).clamp(max=kappa)
    return (margin * valid).sum() / valid.sum().clamp(min=1)


def _correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    valid = labels != IGNORE_INDEX
    return (class_argmax(logits) == labels) & valid, valid


@torch.no_grad()
def segpgd_weights(logits: torch.Tensor, labels: torch.Tensor, t: int, T: int) -> torch.Tensor:
    """SegPGD weights (Gu et al., ECCV 2022; spec "Baselines").

    ``1 - lambda_t`` on correctly predicted pixels, ``lambda_t`` on the others.

    ``lambda_t = (t - 1) / (2T)`` for ``t = 1..T``; predictions come from the current iterate.

    Shape: ``(N,C,H,W), (N,H,W) -> (N,H,W)``.
    """
    if not 1 <= t <= T:
        raise ValueError(f"iteration t must be in 1..T={T}, got {t}")
    lam = (t - 1) / (2 * T)
    correct, valid = _correct(logits, labels)
    return torch.where(correct, 1.0 - lam, lam) * valid


@torch.no_grad()
def cospgd_weights(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """CosPGD weights (Agnihotri et al., ICML 2024): ``cos(softmax(z_i), onehot(y_i)) = p_{i,y} / ||p_i||_2``.

    Shape: ``(N,C,H,W), (N,H,W) -> (N,H,W)``.
    """
    probs = logits.float().softmax(1)
    valid = labels != IGNORE_INDEX
    p_true = probs.gather(1, labels.masked_fill(~valid, 0)[:, None])[:, 0]
    # square-sum-sqrt rather than norm(dim=1): the channel-dim norm is ~30x slower on CPU
    return p_true / probs.square().sum(1).sqrt().clamp(min=1e-12) * valid


@torch.no_grad()
def transegpgd_stage1_weights(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 0.1,
                              favour: str = "correct", *, correct: torch.Tensor | None = None) -> torch.Tensor:
    """TranSegPGD stage 1 (arXiv 2312.02207; weights ours): ``1 - gamma`` on the favoured group.

    ``favour="correct"`` (default, after the abstract) puts ``1 - gamma`` on pixels still
    correctly predicted and ``gamma`` on misclassified ones; ``"wrong"`` the opposite (the summary).
    ``correct`` may pass the precomputed mask of correctly predicted valid pixels.

    Shape: ``(N,C,H,W), (N,H,W) -> (N,H,W)``.
    """
    if favour not in ("correct", "wrong"):
        raise ValueError(f"favour must be one of ['correct', 'wrong'], got {favour!r}")
    valid = labels != IGNORE_INDEX
    if correct is None:
        correct, _ = _correct(logits, labels)
    favoured = correct if favour == "correct" else ~correct
    return torch.where(favoured, 1.0 - gamma, gamma) * valid


@torch.no_grad()
def pixel_kl(clean_logits: torch.Tensor, adv_logits: torch.Tensor, *, log_probs: bool = False) -> torch.Tensor:
    """``KL(softmax(z_clean) || softmax(z_adv))`` per pixel. Shape: ``(N,C,H,W) x2 -> (N,H,W)``.

    ``log_probs=True``: both arguments already hold log-probabilities.
    """
    log_p = clean_logits.float() if log_probs else clean_logits.float().log_softmax(1)
    log_q = adv_logits.float() if log_probs else adv_logits.float().log_softmax(1)
    return (log_p.exp() * (log_p - log_q)).sum(1)


@torch.no_grad()
def transegpgd_stage2_split(kl: torch.Tensor, labels: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """TranSegPGD stage 2 (weights ours): ``1 - beta`` where ``KL_i`` exceeds its image's mean KL, else ``beta``.

    The mean is over the valid pixels of each image. Shape: ``(N,H,W), (N,H,W) -> (N,H,W)``.
    """
    valid = labels != IGNORE_INDEX
    kl = kl * valid
    mean = kl.sum((1, 2)) / valid.sum((1, 2)).clamp(min=1)
    return torch.where(kl > mean[:, None, None], 1.0 - beta, beta) * valid


@torch.no_grad()
def transegpgd_stage2_weights(adv_logits: torch.Tensor, clean_logits: torch.Tensor, labels: torch.Tensor,
                              beta: float = 0.1, *, log_probs: bool = False) -> torch.Tensor:
    """TranSegPGD stage-2 weights from logits: :func:`pixel_kl` then :func:`transegpgd_stage2_split`.

    ``log_probs=True``: both arguments already hold log-probabilities.

    Shape: ``(N,C,H,W), (N,C,H,W), (N,H,W) -> (N,H,W)``.
    """
    return transegpgd_stage2_split(pixel_kl(clean_logits, adv_logits, log_probs=log_probs), labels, beta)


def rppgd_lambdas(i: int, N: int) -> tuple[float, float, float]:
    """RP-PGD region weights (AAAI 2025, paper 004, Eq. 4) at iteration ``i`` of ``N``.

    Returns:
        ``((2N - i) / 2N, (i - 1) / 2N, 1 / 2N)`` for the True, Boundary and False regions.
    """
    if not (isinstance(N, int) and N >= 1 and isinstance(i, int) and 1 <= i <= N):
        raise ValueError(f"need integers 1 <= i <= N, got i={i!r}, N={N!r}")
    return (2 * N - i) / (2 * N), (i - 1) / (2 * N), 1 / (2 * N)


def rppgd_update(ever_wrong: torch.Tensor, clean_correct: torch.Tensor, pred: torch.Tensor,
                 labels: torch.Tensor) -> torch.Tensor:
    """Add the pixels the iterate ``pred`` mispredicts to RP-PGD's "ever wrong" memory (Defs. 1-2)."""
    return ever_wrong | (clean_correct & (pred != labels))


def rppgd_regions(clean_correct: torch.Tensor, ever_wrong: torch.Tensor,
                  labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RP-PGD's disjoint regions (Defs. 1-3): True, Boundary, False masks ``(N,H,W)`` bool.

    True: correct on the clean image and on every iterate so far; Boundary: correct on the clean
    image but wrong on some iterate so far; False: wrong on the clean image (valid pixels only).
    """
    valid = labels != IGNORE_INDEX
    return clean_correct & ~ever_wrong, clean_correct & ever_wrong, valid & ~clean_correct


def _to_feature_size(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    return F.interpolate(t[:, None].float(), size=size, mode="nearest-exact")[:, 0].to(t.dtype)


def prototype_loss(features: torch.Tensor, labels: torch.Tensor, true_mask: torch.Tensor, *,
                   num_classes: int | None = None) -> torch.Tensor:
    """RP-PGD prototype loss (AAAI 2025, Eqs. 5-6), per image, averaged over the batch.

    ``P_c`` = mean feature over pixels of ``true_mask`` with label ``c`` (Eq. 5);
    ``L_P = (1 / C(N_P, 2)) sum_{i != j} cos(P_ci, P_cj)`` over ordered pairs (Eq. 6), i.e. twice
    the mean unordered-pair cosine; ``L_P = 0`` when fewer than two classes are present.
    Labels and mask are nearest-resized to the feature resolution (ours). Differentiable in
    ``features``.

    Args:
        features: ``(N,D,h,w)`` penultimate features.
        labels: ``(N,H,W)`` or ``(N,h,w)`` int64, 255 = ignore.
        true_mask: bool, same size as ``labels``: the pixels allowed into prototypes.
        num_classes: number of classes; inferred from ``labels`` (a host sync) when ``None``.

    Returns:
        A scalar tensor.
    """
    n, d, h, w = features.shape
    labels = _to_feature_size(labels, (h, w))
    mask = _to_feature_size(true_mask.to(torch.uint8), (h, w)).bool() & (labels != IGNORE_INDEX)
    if num_classes is None:
        valid = labels[labels != IGNORE_INDEX]
        num_classes = int(valid.max().item()) + 1 if valid.numel() else 1
    # one-hot membership (N,C,hw) restricted to the mask; class sums by one batched matmul
    member = F.one_hot(labels.masked_fill(~mask, 0), num_classes).permute(0, 3, 1, 2).flatten(2)
    member = member.to(features.dtype) * mask.flatten(1)[:, None].to(features.dtype)
    counts = member.sum(-1)
    protos = member @ features.flatten(2).transpose(1, 2) / counts.clamp(min=1)[..., None]
    unit = protos / protos.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    cos = unit @ unit.transpose(1, 2)
    present = counts > 0
    pairs = present[:, :, None] & present[:, None, :] & ~torch.eye(num_classes, dtype=torch.bool,
                                                                   device=features.device)
    n_p = present.sum(1).to(features.dtype)
    n_comb = n_p * (n_p - 1) / 2
    per_image = torch.where(n_comb > 0, (cos * pairs).sum((1, 2)) / n_comb.clamp(min=1), 0.0)
    return per_image.mean()


__all__ = ["class_argmax", "pixel_ce", "weighted_ce", "cw_margin", "segpgd_weights", "cospgd_weights", "transegpgd_stage1_weights",
           "pixel_kl", "transegpgd_stage2_split", "transegpgd_stage2_weights", "rppgd_lambdas", "rppgd_update", "rppgd_regions",
           "prototype_loss"]
