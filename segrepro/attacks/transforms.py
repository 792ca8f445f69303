"""Input transforms: Dynamic Scaling, diverse inputs (DI) and SegTrans region remapping.

Every transform moves the label with the image (image bilinear, label nearest) and is built from
differentiable tensor ops (``F.interpolate``, slicing, ``F.pad``, ``torch.cat``), so the gradient
of a loss computed at the transformed geometry flows back to the native pixel grid.

Labels are resized with ``mode="nearest-exact"``: it picks the source pixel whose centre is
nearest, the same pixel-centre convention as ``bilinear`` with ``align_corners=False``
(PyTorch's legacy ``"nearest"`` is shifted by half a pixel).

Each public function has a ``*_geometry`` twin returning a :class:`Geometry` that replays the same
change on any other native-grid map (e.g. TranSegPGD's clean logits under ``transegpgd+ds``).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from segrepro.attacks.parts import InputTransform, Param, in_range
from segrepro.validation import IGNORE_INDEX

Size = tuple[int, int]


def _resize(t: torch.Tensor, size: Size, kind: str) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    if kind == "label":
        return F.interpolate(t[:, None].float(), size=size, mode="nearest-exact")[:, 0].to(t.dtype)
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)


def _bounds(n: int, k: int) -> list[tuple[int, int]]:
    """``k`` intervals of ``0..n``, each ``n // k`` long; the last absorbs the remainder."""
    step = n // k
    return [(i * step, (i + 1) * step if i < k - 1 else n) for i in range(k)]


class Geometry:
    """A recorded chain of resize / pad / region-remap operations, replayable on any map.

    ``apply(t, kind)`` with ``kind="image"`` (bilinear, pad 0), ``"label"`` (nearest, pad 255)
    or ``"map"`` (bilinear, pad 0; e.g. logits).
    """

    def __init__(self, ops: Sequence[tuple] = ()):
        self.ops = list(ops)

    def then(self, other: "Geometry | None") -> "Geometry":
        return self if other is None else Geometry(self.ops + other.ops)

    def apply(self, t: torch.Tensor, kind: str = "map") -> torch.Tensor:
        for op in self.ops:
            t = _OPS[op[0]](t, kind, *op[1:])
        return t


def _op_resize(t, kind, size):
    return _resize(t, size, kind)


def _op_pad(t, kind, total, offset):
    top, left = offset
    bottom, right = total[0] - t.shape[-2] - top, total[1] - t.shape[-1] - left
    fill = IGNORE_INDEX if kind == "label" else 0.0
    return F.pad(t, (left, right, top, bottom), value=fill)


def _op_shuffle(t, kind, k, perm):
    rows, cols = _bounds(t.shape[-2], k), _bounds(t.shape[-1], k)
    out_rows = []
    for r in range(k):
        pieces = []
        for c in range(k):
            src = perm[r * k + c]
            (r0, r1), (c0, c1) = rows[src // k], cols[src % k]
            slot = (rows[r][1] - rows[r][0], cols[c][1] - cols[c][0])
            pieces.append(_resize(t[..., r0:r1, c0:c1], slot, kind))
        out_rows.append(torch.cat(pieces, dim=-1))
    return torch.cat(out_rows, dim=-2)


def _op_zoom(t, kind, k, index):
    rows, cols = _bounds(t.shape[-2], k), _bounds(t.shape[-1], k)
    (r0, r1), (c0, c1) = rows[index // k], cols[index % k]
    return _resize(t[..., r0:r1, c0:c1], tuple(t.shape[-2:]), kind)


_OPS = {"resize": _op_resize, "pad": _op_pad, "shuffle": _op_shuffle, "zoom": _op_zoom}


# ---------------------------------------------------------------------------------------------
# Dynamic Scaling [paper: 001, Eq. 5]

def ds_size(height: int, width: int, scale: float, min_side: int = 32) -> Size:
    """The DS output size ``(round(sH), round(sW))``, each side floored at ``min(min_side, side)``.

    The floor (ours) keeps models with five poolings valid; it never exceeds the native side.
    """
    return (max(int(round(scale * height)), min(min_side, height)),
            max(int(round(scale * width)), min(min_side, width)))


def dynamic_scale_geometry(size: Size) -> Geometry:
    return Geometry([("resize", tuple(size))])


def dynamic_scale(images: torch.Tensor, labels: torch.Tensor, scale: float, *,
                  min_side: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Rescale an image batch and its labels by ``scale`` (DS, Gu et al., arXiv 2111.11368, Eq. 5).

    ``psi_DS`` in Eq. 5: images bilinear (``align_corners=False``), labels nearest. The attack
    draws ``scale ~ U[1 - lambda, 1 + lambda]`` each iteration.

    Args:
        images: ``(N,3,H,W)`` float.
        labels: ``(N,H,W)`` int64.
        scale: the ratio ``s``.
        min_side: floor on each output side [ours], capped at the native side.

    Returns:
        ``(images', labels')`` of spatial size :func:`ds_size`.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    geo = dynamic_scale_geometry(ds_size(images.shape[-2], images.shape[-1], scale, min_side))
    return geo.apply(images, "image"), geo.apply(labels, "label")


# ---------------------------------------------------------------------------------------------
# Diverse inputs, segmentation form [ours, after Xie et al. CVPR 2019]

def diverse_input_geometry(height: int, width: int, side: int, offset: tuple[int, int],
                           ratio: float = 1.1) -> Geometry:
    """Resize to ``side`` rows (width in proportion), then pad to ``floor(ratio * side)``."""
    total = (int(math.floor(ratio * height)), int(math.floor(ratio * width)))
    size = (side, min(int(round(side * width / height)), total[1]))
    if not (size[0] <= total[0] and offset[0] <= total[0] - size[0] and offset[1] <= total[1] - size[1]):
        raise ValueError(f"DI resize {size} at offset {offset} does not fit the padded size {total}")
    return Geometry([("resize", size), ("pad", total, tuple(offset))])


def diverse_input(images: torch.Tensor, labels: torch.Tensor, side: int, offset: tuple[int, int], *,
                  ratio: float = 1.1) -> tuple[torch.Tensor, torch.Tensor]:
    """DI for segmentation: resize to ``side`` then pad at ``offset`` (image 0, label 255).

    Args:
        images: ``(N,3,H,W)`` float.
        labels: ``(N,H,W)`` int64.
        side: resized height ``r`` (the attack draws ``r ~ U{H..floor(ratio H)-1}``).
        offset: ``(top, left)`` of the resized block inside the padded canvas.
        ratio: the padded canvas is ``(floor(ratio H), floor(ratio W))``.

    Returns:
        ``(images', labels')`` of size ``(floor(ratio H), floor(ratio W))``.
    """
    geo = diverse_input_geometry(images.shape[-2], images.shape[-1], side, offset, ratio)
    return geo.apply(images, "image"), geo.apply(labels, "label")


# ---------------------------------------------------------------------------------------------
# SegTrans [paper: 000 abstract; region split and remap are ours]

def _check_grid(images: torch.Tensor, k: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"grid size k must be a positive int, got {k!r}")
    if k > min(images.shape[-2:]):
        raise ValueError(f"grid size k={k} exceeds the image side {min(images.shape[-2:])}")


def region_shuffle_geometry(k: int, perm: Sequence[int]) -> Geometry:
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(k * k)):
        raise ValueError(f"perm must be a permutation of 0..{k * k - 1}, got {perm}")
    return Geometry([("shuffle", k, tuple(perm))])


def region_shuffle(images: torch.Tensor, labels: torch.Tensor, k: int,
                   generator: torch.Generator | None = None, *,
                   perm: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SegTrans region shuffle (Song et al., arXiv 2510.08922; our reading of the abstract).

    Splits image and label into a ``k x k`` grid (regions ``H // k`` high; the last row/column
    absorbs the remainder), then fills slot ``j`` (row-major) with region ``perm[j]``. A region
    whose size differs from its new slot is resized (image bilinear, label nearest).

    Args:
        images: ``(N,3,H,W)`` float.
        labels: ``(N,H,W)`` int64.
        k: grid size.
        generator: CPU generator for the permutation (one permutation for the whole batch).
        perm: a fixed permutation of ``0..k*k-1`` (overrides ``generator``).

    Returns:
        ``(images', labels')`` of the input size.
    """
    _check_grid(images, k)
    if perm is None:
        perm = torch.randperm(k * k, generator=generator).tolist()
    geo = region_shuffle_geometry(k, perm)
    return geo.apply(images, "image"), geo.apply(labels, "label")


def region_zoom(images: torch.Tensor, labels: torch.Tensor, k: int,
                generator: torch.Generator | None = None, *,
                index: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SegTrans zoom variant (ours): one ``k x k`` region, with its label, resized to the full size.

    Args:
        images: ``(N,3,H,W)`` float.
        labels: ``(N,H,W)`` int64.
        k: grid size.
        generator: CPU generator choosing the region.
        index: a fixed region index (row-major, ``0..k*k-1``), overrides ``generator``.

    Returns:
        ``(images', labels')`` of the input size.
    """
    _check_grid(images, k)
    if index is None:
        index = int(torch.randint(0, k * k, (1,), generator=generator).item())
    if not 0 <= index < k * k:
        raise ValueError(f"region index must be in 0..{k * k - 1}, got {index}")
    geo = Geometry([("zoom", k, int(index))])
    return geo.apply(images, "image"), geo.apply(labels, "label")


# ---------------------------------------------------------------------------------------------
# The input-transform parts the methods table composes. Random draws use the host generator.

def _scale_range_check(value) -> str | None:
    if value is None:
        return None
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, float)) for v in value) and 0 < value[0] <= value[1])
    return None if ok else f"must be None or (lo, hi) with 0 < lo <= hi, got {value!r}"


def _grid_check(value) -> str | None:
    ok = (isinstance(value, (tuple, list)) and len(value) > 0
          and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value))
    return None if ok else f"must be a non-empty sequence of positive ints, got {value!r}"


class DynamicScaling(InputTransform):
    """DS (Gu et al., arXiv 2111.11368, Eq. 5): each iteration, ``s ~ U[1-lam, 1+lam]``."""

    name = "ds"
    params = {
        "lam": Param(0.5, "[paper: DS Sec. 6, Fig. 8]", "scale ratio s ~ U[1 - lam, 1 + lam]",
                     in_range(0.0, 0.999)),
        "scale_range": Param(None, "[ours]", "explicit (lo, hi) for s, overrides lam", _scale_range_check),
        "min_side": Param(32, "[ours]", "floor on each scaled side (VGG nets pool five times)",
                          in_range(1, 1e9)),
    }

    def apply(self, x, y, ctx):
        p = ctx.params
        lo, hi = p["scale_range"] or (1.0 - p["lam"], 1.0 + p["lam"])
        scale = lo + (hi - lo) * ctx.host_rand()
        geo = dynamic_scale_geometry(ds_size(x.shape[-2], x.shape[-1], scale, int(p["min_side"])))
        return geo.apply(x, "image"), geo.apply(y, "label"), geo


class DiverseInputs(InputTransform):
    """DI for segmentation (ours, after Xie et al. CVPR 2019): resize to ``r`` and pad, with prob ``p``."""

    name = "di"
    params = {
        "di_prob": Param(0.5, "[ref: Xie et al. 2019]", "probability of transforming an iteration",
                         in_range(0.0, 1.0)),
        "di_ratio": Param(1.1, "[ref: Xie et al. 2019 (330/299); ours for segmentation]",
                          "padded side = floor(di_ratio * side)", in_range(1.0, 4.0)),
    }

    def apply(self, x, y, ctx):
        p = ctx.params
        height, width = x.shape[-2:]
        total = int(math.floor(p["di_ratio"] * height))
        if ctx.host_rand() >= p["di_prob"] or total <= height:
            return x, y, None
        side = ctx.host_randint(height, total - 1)
        side_w = min(int(round(side * width / height)), int(math.floor(p["di_ratio"] * width)))
        offset = (ctx.host_randint(0, total - side),
                  ctx.host_randint(0, int(math.floor(p["di_ratio"] * width)) - side_w))
        geo = diverse_input_geometry(height, width, side, offset, p["di_ratio"])
        return geo.apply(x, "image"), geo.apply(y, "label"), geo


def _draw_grid(x: torch.Tensor, ctx) -> int:
    """SegTrans grid size ``k ~ U(grid_sizes)`` from the host generator, checked against the image."""
    sizes = ctx.params["grid_sizes"]
    k = int(sizes[ctx.host_randint(0, len(sizes) - 1)])
    _check_grid(x, k)
    return k


class RegionShuffle(InputTransform):
    """SegTrans (ours, from the abstract of arXiv 2510.08922): ``k ~ U(grid_sizes)``, one permutation."""

    name = "segtrans"
    params = {"grid_sizes": Param((2, 3, 4), "[ours]", "grid sizes k drawn uniformly", _grid_check)}

    def apply(self, x, y, ctx):
        k = _draw_grid(x, ctx)
        geo = region_shuffle_geometry(k, torch.randperm(k * k, generator=ctx.host_generator).tolist())
        return geo.apply(x, "image"), geo.apply(y, "label"), geo


class RegionZoom(InputTransform):
    """SegTrans zoom variant (ours): one random ``k x k`` region resized to the full input."""

    name = "segtrans_zoom"
    params = {"grid_sizes": Param((2, 3, 4), "[ours]", "grid sizes k drawn uniformly", _grid_check)}

    def apply(self, x, y, ctx):
        k = _draw_grid(x, ctx)
        geo = Geometry([("zoom", k, ctx.host_randint(0, k * k - 1))])
        return geo.apply(x, "image"), geo.apply(y, "label"), geo
