"""Segmentation metrics of the study (spec/methods.md, "Metrics").

- mIoU: one confusion matrix accumulated over every evaluated pixel (255 ignored),
  ``IoU_c = TP / (TP + FP + FN)``, averaged over the classes whose union is non-zero (as
  MMSegmentation does).
- MisRatio (after SegPGD, Gu et al. 2022): fraction of valid pixels whose prediction differs from
  the label.
- Attack success rate (ours): fraction of valid pixels predicted correctly on the clean image that
  are mispredicted on the adversarial one; relative mIoU drop ``1 - mIoU_adv / mIoU_clean``.

Every metric is computed once, from counts (:class:`Counts`: the confusion matrix plus, against a
clean prediction, the clean-correct and flipped pixel counts). Counts add up over batches, so a
runner can accumulate them and drop the predictions; the grid runner, the robustness battery and
the tensor-level helpers (:func:`mis_ratio`, :func:`attack_success_rate`) all go through them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch import nn

from .devices import resolve_device
from .models.wrap import eval_mode, param_dtype
from .validation import IGNORE_INDEX, check_images, check_labels


def _check_pair(pred: torch.Tensor, target: torch.Tensor, names: tuple[str, str] = ("pred", "target")) -> None:
    for t, name in zip((pred, target), names):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer class ids, got dtype {t.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"{names[0]} of shape {tuple(pred.shape)} does not match {names[1]} of shape {tuple(target.shape)}")


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Confusion matrix of predicted vs. true class ids, ignoring ``ignore_index`` pixels.

    Args:
        pred: predicted class ids, any shape.
        target: true class ids (or ``ignore_index``), same shape as ``pred``.
        num_classes: number of classes ``C``.
        ignore_index: label value excluded from the count.

    Returns:
        int64 tensor ``(C, C)`` on ``target``'s device; entry ``[t, p]`` counts pixels of true class
        ``t`` predicted as ``p`` (rows = target).

    Raises:
        ValueError: on mismatched shapes or class ids outside ``0..C-1``.
    """
    _check_pair(pred, target)
    pred = pred.to(target.device)
    valid = target != ignore_index
    t, p = target[valid].long(), pred[valid].long()
    if t.numel() and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"target holds class ids outside 0..{num_classes - 1} (and {ignore_index} = ignore)")
    if p.numel() and (p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"pred holds class ids outside 0..{num_classes - 1}")
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_iou(conf: torch.Tensor) -> torch.Tensor:
    """``IoU_c = TP / (TP + FP + FN)`` per class; NaN where the union is 0 (class absent and never predicted).

    Shape: ``(C, C)`` int -> ``(C,)`` float64.
    """
    if not isinstance(conf, torch.Tensor) or conf.dim() != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError(f"conf must be a square (C,C) tensor, got {getattr(conf, 'shape', type(conf).__name__)}")
    conf = conf.double()
    tp = conf.diag()
    union = conf.sum(0) + conf.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, math.nan))


def miou(conf: torch.Tensor) -> float:
    """Mean IoU over the classes whose union is non-zero; NaN if there is none."""
    iou = per_class_iou(conf)
    present = ~iou.isnan()
    return float(iou[present].mean()) if present.any() else math.nan


def pixel_accuracy(conf: torch.Tensor) -> float:
    """Fraction of counted (non-ignored) pixels predicted correctly; NaN if none is counted."""
    total = conf.sum()
    return float(conf.diag().sum().double() / total) if total > 0 else math.nan


def rate(part: int, whole: int) -> float:
    """``part / whole`` of two pixel counts; NaN when ``whole`` is 0 (nothing to count)."""
    return part / whole if whole else math.nan


def error_rate(conf: torch.Tensor) -> float:
    """MisRatio (SegPGD, Gu et al. 2022) of a confusion matrix: counted pixels off the diagonal / all counted."""
    total = int(conf.sum())
    return rate(total - int(conf.diag().sum()), total)


@dataclass
class Counts:
    """Pixel counts of one prediction set, the source of every metric; ``a + b`` adds two batches.

    Attributes:
        conf: Confusion matrix ``(C, C)`` int64 (rows = target), ignored pixels left out.
        clean_right: Valid pixels that the clean prediction gets right (0 without one).
        flipped: Of those, pixels that this prediction gets wrong (the attack's successes).
    """

    conf: torch.Tensor
    clean_right: int = 0
    flipped: int = 0

    @classmethod
    def of(cls, pred: torch.Tensor, target: torch.Tensor, num_classes: int, clean_pred: torch.Tensor | None = None,
           ignore_index: int = IGNORE_INDEX) -> "Counts":
        """Count ``pred`` against ``target`` (and against ``clean_pred`` when given).

        Shape: ``pred``, ``target`` and ``clean_pred`` the same, any shape, integer class ids.
        """
        conf = confusion_matrix(pred, target, num_classes, ignore_index)
        if clean_pred is None:
            return cls(conf)
        _check_pair(clean_pred, target, ("clean_pred", "target"))
        right = (target != ignore_index) & (clean_pred.to(target.device) == target)
        flipped = right & (pred.to(target.device) != target)
        return cls(conf, int(right.sum()), int(flipped.sum()))

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.conf + other.conf, self.clean_right + other.clean_right, self.flipped + other.flipped)

    @property
    def miou(self) -> float:
        return miou(self.conf)

    @property
    def mis_ratio(self) -> float:
        return error_rate(self.conf)

    @property
    def asr(self) -> float:
        """Attack success rate [ours]: ``flipped / clean_right`` (NaN when no pixel was right)."""
        return rate(self.flipped, self.clean_right)


def _classes(ignore_index: int, *labels: torch.Tensor) -> int:
    """Enough classes for every id in ``labels`` (ignored ones aside): the largest id + 1."""
    ids = [t[t != ignore_index] for t in labels]
    return max([1, *(int(t.max()) + 1 for t in ids if t.numel())])


def mis_ratio(pred: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """MisRatio (SegPGD, Gu et al. 2022): fraction of valid pixels with ``pred != target``; NaN if none is valid."""
    _check_pair(pred, target)
    return Counts.of(pred, target, _classes(ignore_index, pred, target), ignore_index=ignore_index).mis_ratio


def attack_success_rate(clean_pred: torch.Tensor, adv_pred: torch.Tensor, target: torch.Tensor,
                        ignore_index: int = IGNORE_INDEX) -> float:
    """Fraction of valid pixels correct on the clean image that the attack makes wrong [ours].

    Returns NaN when no valid pixel is correct on the clean image.
    """
    _check_pair(adv_pred, target, ("adv_pred", "target"))
    n = _classes(ignore_index, clean_pred, adv_pred, target)
    return Counts.of(adv_pred, target, n, clean_pred=clean_pred, ignore_index=ignore_index).asr


def relative_drop(miou_adv: float, miou_clean: float) -> float:
    """Relative mIoU drop ``1 - mIoU_adv / mIoU_clean``; NaN when the clean mIoU is 0 (or NaN)."""
    return 1.0 - miou_adv / miou_clean if miou_clean else math.nan


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else fallback


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be a positive int, got {type(batch_size).__name__} {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    return batch_size


def class_argmax(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(1)`` (first maximum on ties), computed through ``amax``.

    On CPU, ``argmax`` over the channel dimension of an ``(N,C,H,W)`` tensor is slow (133 ms at
    32x10x96x96 on one thread, 18 % of a TranSegPGD iteration); this form takes 10 ms: the first
    maximum is the one with the largest reversed index ``C - c``.

    Shape: ``(N,C,H,W) -> (N,H,W)`` int64.
    """
    num = logits.shape[1]
    reversed_ids = torch.arange(num, 0, -1, device=logits.device, dtype=logits.dtype).view(1, -1, 1, 1)
    is_top = logits == logits.amax(1, keepdim=True)
    return (num - (is_top * reversed_ids).amax(1)).long()


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Predicted class ids (argmax of the logits), computed in eval mode without gradients.

    Args:
        model: a contract model (input [0,1], logits ``(N,C,H,W)``); each submodule's own train/eval
            flag is restored afterwards (a BN layer frozen in eval mode stays frozen).
        images: float ``(N,3,H,W)`` in [0,1], on any device (moved to the model's device and cast
            to its parameter dtype per batch).
        batch_size: images per forward pass (a positive int).

    Returns:
        int64 ``(N,H,W)`` on ``images``'s device.
    """
    _check_batch_size(batch_size)
    check_images(images)
    device = _model_device(model, images.device)
    dtype = param_dtype(model, images.dtype)
    with eval_mode(model):
        out = [class_argmax(model(images[i:i + batch_size].to(device, dtype))).to(images.device)
               for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.zeros((0, *images.shape[-2:]), dtype=torch.long, device=images.device)


def _batches(data: Any, batch_size: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)`` batches from a tensor pair, a Dataset, or an iterable of batches."""
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data):
        if len(data) != 2:  # else each tensor would be taken for one (image, label) item
            raise TypeError(f"data is a {type(data).__name__} of {len(data)} tensors; pass an (images, labels) "
                            "pair, a Dataset or a DataLoader")
        images, labels = data
        for i in range(0, len(images), batch_size):
            yield images[i:i + batch_size], labels[i:i + batch_size]
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        for i in range(0, len(data), batch_size):
            idx = list(range(i, min(i + batch_size, len(data))))
            if callable(getattr(data, "tensors", None)):  # SyntheticSegmentation's fast batched path
                yield data.tensors(idx)
            else:
                items = [data[j] for j in idx]
                yield torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(y) for _, y in items])
    elif isinstance(data, Iterable):  # a DataLoader
        yield from data
    else:
        raise TypeError("data must be a Dataset, a DataLoader or an (images, labels) tensor pair, "
                        f"got {type(data).__name__}")


def evaluate(model: nn.Module, data: Any, batch_size: int = 32, device: torch.device | str | None = None) -> dict:
    """Evaluate ``model`` on a dataset and return a tidy record.

    Args:
        model: a contract model with ``num_classes``.
        data: a Dataset of ``(image, label)``, a DataLoader of batches, or an ``(images, labels)`` pair.
        batch_size: images per forward pass, a positive int (ignored for a DataLoader).
        device: where to run; default the model's device. The model is moved there.

    Returns:
        ``{"miou", "pixel_accuracy", "mis_ratio", "n_images", "n_pixels", "per_class_iou"}``; the
        last is a list of floats (NaN for classes absent from labels and predictions).
    """
    num_classes = getattr(model, "num_classes", None)
    if not isinstance(num_classes, int):
        raise TypeError("evaluate needs a model with an integer num_classes attribute")
    _check_batch_size(batch_size)
    if device is not None:
        model.to(resolve_device(device))
    device = _model_device(model, torch.device("cpu"))
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
    n_images = 0
    for images, labels in _batches(data, batch_size):
        check_images(images)
        check_labels(labels, num_classes, images=images)
        labels = labels.to(device)
        conf += confusion_matrix(predict(model, images.to(device), batch_size), labels, num_classes)
        n_images += len(images)
    if n_images == 0:
        raise ValueError(f"evaluate got no images: data ({type(data).__name__}) is empty")
    acc = pixel_accuracy(conf)
    return {"miou": miou(conf), "pixel_accuracy": acc, "mis_ratio": 1.0 - acc, "n_images": n_images,
            "n_pixels": int(conf.sum()), "per_class_iou": per_class_iou(conf).tolist()}


# ---------------------------------------------------------------- per-image counts
# The study's intervals are bootstrapped over images (report/outcomes.py), so every cell keeps, per
# image, the counts from which any dataset-level metric is a sum: per-class intersection, predicted
# area and label area (union = pred + label - inter), valid and correct pixels, and, against the
# target's clean prediction, the clean-correct pixels and those the attack flipped. A dataset metric
# is then the same formula on (weighted) sums, so the point value equals the confusion-matrix one.

#: Per-image count arrays of :func:`image_counts`: name -> trailing shape ("C" = per class).
COUNT_FIELDS = {"inter": "C", "pred_area": "C", "label_area": "C", "valid": "", "correct": "",
                "clean_correct": "", "flipped": ""}


def image_counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int, clean_pred: torch.Tensor | None = None,
                 ignore_index: int = IGNORE_INDEX) -> dict[str, torch.Tensor]:
    """Per-image counts of one batch of predictions.

    Args:
        pred: predicted class ids ``(N,H,W)``.
        target: labels ``(N,H,W)`` (``ignore_index`` excluded).
        num_classes: ``C``.
        clean_pred: the target model's prediction on the clean images (for ASR); default ``pred``.

    Returns:
        int64 tensors on CPU: ``inter``, ``pred_area``, ``label_area`` of shape ``(N,C)`` and
        ``valid``, ``correct``, ``clean_correct``, ``flipped`` of shape ``(N,)``.
    """
    _check_pair(pred, target)
    clean_pred = pred if clean_pred is None else clean_pred
    _check_pair(clean_pred, target, ("clean_pred", "target"))
    n = pred.shape[0]
    valid = target != ignore_index
    t = torch.where(valid, target, torch.zeros_like(target)).long().reshape(n, -1)
    p = pred.to(target.device).long().reshape(n, -1)
    if (t.numel() and (t.max() >= num_classes or t.min() < 0)) or (p.numel() and (p.max() >= num_classes or p.min() < 0)):
        raise ValueError(f"class ids must lie in 0..{num_classes - 1} (and {ignore_index} = ignore)")
    v = valid.reshape(n, -1)
    hit = v & (p == t)
    offsets = torch.arange(n, device=t.device)[:, None] * num_classes

    def per_class(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.bincount((ids + offsets)[mask], minlength=n * num_classes).reshape(n, num_classes)

    clean_hit = v & (clean_pred.to(target.device).long().reshape(n, -1) == t)
    out = {"inter": per_class(t, hit), "pred_area": per_class(p, v), "label_area": per_class(t, v),
           "valid": v.sum(1), "correct": hit.sum(1), "clean_correct": clean_hit.sum(1),
           "flipped": (clean_hit & ~hit).sum(1)}
    return {k: x.cpu() for k, x in out.items()}


def miou_from_counts(inter, pred_area, label_area, weights=None):
    """mIoU from per-image counts: classes with a non-zero union, ``IoU_c = I_c / U_c`` of summed counts.

    Args:
        inter, pred_area, label_area: arrays ``(..., N, C)``.
        weights: bootstrap weights broadcastable to ``(..., N)`` (None: every image once).

    Returns:
        mIoU in [0, 1] of shape ``(...)`` (NaN where no class has a union).
    """
    import numpy as np

    w = 1.0 if weights is None else np.asarray(weights, dtype=np.float64)[..., None]
    i = (np.asarray(inter, dtype=np.float64) * w).sum(-2)
    u = ((np.asarray(pred_area, dtype=np.float64) + np.asarray(label_area, dtype=np.float64)
          - np.asarray(inter, dtype=np.float64)) * w).sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(u > 0, i / np.where(u > 0, u, 1.0), 0.0)
    present = (u > 0).sum(-1)
    return np.where(present > 0, iou.sum(-1) / np.maximum(present, 1), np.nan)


def ratio_from_counts(numerator, denominator, weights=None):
    """``sum(w * numerator) / sum(w * denominator)`` over images (MisRatio, ASR, accuracy); NaN if the denominator is 0."""
    import numpy as np

    w = 1.0 if weights is None else np.asarray(weights, dtype=np.float64)
    num = (np.asarray(numerator, dtype=np.float64) * w).sum(-1)
    den = (np.asarray(denominator, dtype=np.float64) * w).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def metrics_from_counts(counts: dict, weights=None) -> dict:
    """``miou``, ``mis_ratio``, ``asr`` from :func:`image_counts` arrays (optionally under bootstrap weights)."""
    import numpy as np

    mis = ratio_from_counts(np.asarray(counts["valid"]) - np.asarray(counts["correct"]), counts["valid"], weights)
    return {"miou": miou_from_counts(counts["inter"], counts["pred_area"], counts["label_area"], weights),
            "mis_ratio": mis, "asr": ratio_from_counts(counts["flipped"], counts["clean_correct"], weights)}
