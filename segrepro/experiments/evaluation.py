"""Pieces the grid runner needs around the models: scaled prediction, pass counting, metrics of a cell,
the distributed seam and saved examples.

Multi-scale evaluation (DS Table 4) averages the softmax of the target over :data:`MS_SCALES` and
upsamples back to the label size **[ours: the paper does not list its scales; these are the
usual MMSegmentation test-time scales without flips, capped at 1.5 for the 2-core budget]**.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from segrepro.metrics import class_argmax
from segrepro.models.wrap import SegModel
from segrepro.paths import atomic_write_bytes
from segrepro.validation import IGNORE_INDEX

MS_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)


def scale_name(scale: float | str) -> str:
    """Canonical text of an evaluation scale: ``"1"``, ``"0.5"``, ``"ms"`` (the ``eval_scale`` column)."""
    if isinstance(scale, str):
        if scale == "ms":
            return scale
        try:
            scale = float(scale)
        except ValueError:
            raise ValueError(f"evaluation scale must be a positive number or 'ms', got {scale!r}") from None
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise ValueError(f"evaluation scale must be a positive number or 'ms', got {scale!r}")
    return f"{float(scale):g}"


def _logits_at(model, x: torch.Tensor, scale: float) -> torch.Tensor:
    h, w = x.shape[-2:]
    if scale != 1.0:
        x = F.interpolate(x, size=(round(h * scale), round(w * scale)), mode="bilinear", align_corners=False)
    z = model(x)
    if z.shape[-2:] != (h, w):
        z = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
    return z.float()


@torch.no_grad()
def predict(model, images: torch.Tensor, scale: float | str = 1.0, batch_size: int = 16,
            amp: bool = False) -> torch.Tensor:
    """Argmax labels of ``model`` on ``images`` segmented at ``scale`` (or multi-scale ``"ms"``).

    Shape:
        images ``(N,3,H,W)`` -> labels ``(N,H,W)`` int64 at the input size.
    """
    name = scale_name(scale)
    scales = MS_SCALES if name == "ms" else (float(name),)
    use_amp = amp and images.device.type == "cuda"
    out = []
    for lo in range(0, images.shape[0], batch_size):
        x = images[lo:lo + batch_size]
        with torch.autocast(device_type=images.device.type, enabled=use_amp):
            if len(scales) == 1:
                score = _logits_at(model, x, scales[0])
            else:
                score = sum(_logits_at(model, x, s).softmax(1) for s in scales)
        out.append(class_argmax(score))
    return torch.cat(out)


@dataclass
class Stats:
    """Dataset-level metrics of one prediction set (mIoU from the accumulated confusion matrix)."""

    pred: torch.Tensor
    miou: float
    mis_ratio: float
    asr: float

    @classmethod
    def of(cls, pred: torch.Tensor, clean_pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> "Stats":
        """mIoU and MisRatio of ``pred`` against ``labels``; ASR relative to ``clean_pred``.

        ASR **[ours]**: fraction of valid pixels right on the clean image that are wrong on the
        adversarial one. MisRatio: fraction of valid pixels whose prediction differs from the label.
        """
        from segrepro import metrics

        conf = metrics.confusion_matrix(pred, labels, num_classes, ignore_index=IGNORE_INDEX)
        valid = labels != IGNORE_INDEX
        n_valid = int(valid.sum())
        wrong = int(((pred != labels) & valid).sum())
        clean_right = (clean_pred == labels) & valid
        n_right = int(clean_right.sum())
        flipped = int((clean_right & (pred != labels)).sum())
        return cls(pred=pred, miou=float(metrics.miou(conf)),
                   mis_ratio=wrong / n_valid if n_valid else float("nan"),
                   asr=flipped / n_right if n_right else float("nan"))


class CountingModel(SegModel):
    """Wraps a source model to count forward and backward passes per image (the cost rows).

    A backward pass is counted when a gradient reaches the logits of a forward pass, so transforms
    that run the model several times per iteration, or extra no-grad passes, are all counted.
    """

    def __init__(self, inner: SegModel):
        super().__init__(inner.num_classes, config=dict(getattr(inner, "config", {})))
        self.inner = inner
        self.forwards = 0
        self.backwards = 0

    def forward_with_features(self, x):
        n = x.shape[0]
        self.forwards += n
        logits, feats = self.inner.forward_with_features(x)
        if logits.requires_grad:
            logits.register_hook(lambda g: self._count_backward(n) or g)
        return logits, feats

    def _count_backward(self, n: int) -> None:
        self.backwards += n


def dist_context(dist=None):
    """The distributed context: ``dist`` if given, else ``DistContext.from_env()`` (torchrun variables;
    a plain run is rank 0 of 1). See ``segrepro.experiments.distributed``."""
    if dist is not None:
        return dist
    from segrepro.experiments import distributed

    return distributed.DistContext.from_env()


def barrier(ctx) -> None:
    """Wait for every rank (no-op in a one-process run)."""
    from segrepro.experiments import distributed

    if ctx.world_size > 1:
        distributed.barrier(ctx)


def shard(items, ctx) -> list:
    """This rank's items (round-robin, ``segrepro.experiments.distributed.shard``)."""
    from segrepro.experiments.distributed import shard as _shard

    return _shard(items, ctx)


def shard_path(path: Path, rank: int) -> Path:
    """The per-rank shard file of a result table (``x.csv`` -> ``x.rank{r}.csv``)."""
    from segrepro.experiments.distributed import rank_table_path

    return rank_table_path(path, rank)


def shard_paths(path: Path) -> list[Path]:
    """Every per-rank shard file of a result table present on disk (also those of a killed run)."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.stem}.rank*.csv"))


def save_examples(path: Path, clean: torch.Tensor, adv: torch.Tensor, labels: torch.Tensor, meta: dict) -> None:
    """Save a few clean/adversarial pairs (float16, CPU) with the cell's row fields, atomically."""
    buf = io.BytesIO()
    torch.save({"clean": clean.detach().half().cpu(), "adv": adv.detach().half().cpu(),
                "labels": labels.detach().to(torch.uint8).cpu(), "meta": meta}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_examples(path: Path) -> dict:
    """Load examples saved by :func:`save_examples` (float32 images, int64 labels)."""
    data = torch.load(Path(path), map_location="cpu", weights_only=True)
    return {**data, "clean": data["clean"].float(), "adv": data["adv"].float(), "labels": data["labels"].long()}
