"""Seeded procedural segmentation datasets: the embedded stand-ins for PASCAL VOC and Cityscapes.

Image ``i`` of split ``s`` is a pure function of ``(preset, seed, s, i, size)``: it is drawn from its
own ``numpy.random.default_rng([seed, split_id, i])``, so any single image can be regenerated exactly
(:func:`generate_one`) and a shorter dataset is a prefix of a longer one. Each split is generated once
and cached as uint8 arrays under ``segrepro.paths.cache_dir("data")``.

Presets (see their modules for classes, measured pixel shares and difficulty knobs):

- ``shapes`` (:mod:`segrepro.data.shapes`): VOC-like, 96x96, background + 9 object classes.
- ``street`` (:mod:`segrepro.data.street`): Cityscapes-like, 64x128, 13 classes, 255 = ignore.

Example:
    >>> ds = SyntheticSegmentation("shapes", "val", length=8)
    >>> image, label = ds[0]          # float32 (3, 96, 96) in [0, 1], int64 (96, 96)
    >>> x, y = ds.tensors()           # (8, 3, 96, 96), (8, 96, 96)
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..paths import atomic_write_bytes, cache_dir
from ..validation import IGNORE_INDEX
from . import shapes as _shapes
from . import street as _street

# Bump whenever a generator or a knob changes: it is part of the cache key.
VERSION = 4
SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class PresetSpec:
    """What a preset is: its classes, default size and lengths, generator and colour palette.

    Attributes:
        name: preset name.
        class_names: one name per class id.
        size: default ``(H, W)``.
        lengths: default number of images per split.
        generate: ``(rng, H, W) -> (image uint8 (H,W,3), label uint8 (H,W))``.
        palette: uint8 ``(num_classes, 3)`` colours for label maps (ignore is drawn black-grey).
        thing_classes: class ids that count for the classification variant.
    """

    name: str
    class_names: tuple[str, ...]
    size: tuple[int, int]
    lengths: dict
    generate: Callable
    palette: np.ndarray
    thing_classes: tuple[int, ...]


PRESETS: dict[str, PresetSpec] = {
    "shapes": PresetSpec("shapes", _shapes.CLASS_NAMES, _shapes.SIZE, {"train": 2000, "val": 300, "test": 300},
                         _shapes.generate, _shapes.PALETTE, tuple(range(1, len(_shapes.CLASS_NAMES)))),
    "street": PresetSpec("street", _street.CLASS_NAMES, _street.SIZE, {"train": 2000, "val": 300, "test": 300},
                         _street.generate, _street.PALETTE,
                         (_street.POLE, _street.LIGHT, _street.SIGN, _street.PERSON, _street.CAR, _street.TRUCK)),
}


def get_preset(preset: str) -> PresetSpec:
    """Return the spec of ``preset``; unknown names raise ValueError listing the valid ones."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {sorted(PRESETS)}")
    return PRESETS[preset]


def palette(preset: str) -> np.ndarray:
    """The fixed label colours of ``preset``: uint8 ``(num_classes, 3)``."""
    return get_preset(preset).palette.copy()


def _check_split(split: str) -> int:
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {list(SPLITS)}")
    return SPLITS[split]


def _check_size(size, default: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return default
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if (not isinstance(size, Sequence) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)):
        raise TypeError(f"size must be an int or a pair of ints (H, W), got {size!r}")
    if min(size) < 16:
        raise ValueError(f"size must be at least 16 pixels per side, got {tuple(size)}")
    return int(size[0]), int(size[1])


def _check_length(length, default: int) -> int:
    if length is None:
        return default
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool):
        raise TypeError(f"length must be an int, got {type(length).__name__}")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    return int(length)


def generate_one(preset: str, split: str, index: int, *, size=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate image ``index`` of a split from scratch, bypassing the cache.

    Returns:
        ``(image uint8 (H, W, 3), label uint8 (H, W))``, identical to the cached arrays' entry.
    """
    spec = get_preset(preset)
    split_id = _check_split(split)
    h, w = _check_size(size, spec.size)
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    rng = np.random.default_rng([int(seed), split_id, int(index)])
    return spec.generate(rng, h, w)


def _cache_path(preset, split, seed, size, length):
    h, w = size
    return cache_dir("data") / f"{preset}-{split}-seed{seed}-{h}x{w}-n{length}-v{VERSION}.npz"


def load_arrays(preset: str, split: str, *, size=None, length=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All images and labels of a split as uint8 arrays, generated once and then read from the cache.

    Returns:
        ``images`` uint8 ``(L, H, W, 3)`` and ``labels`` uint8 ``(L, H, W)``.
    """
    spec = get_preset(preset)
    _check_split(split)
    size = _check_size(size, spec.size)
    length = _check_length(length, spec.lengths[split])
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    path = _cache_path(preset, split, int(seed), size, length)
    if path.exists():
        try:
            with np.load(path) as data:
                images, labels = data["images"], data["labels"]
            if images.shape == (length, *size, 3) and labels.shape == (length, *size):
                return images, labels
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a corrupt or foreign file is regenerated and overwritten below
    images = np.empty((length, *size, 3), dtype=np.uint8)
    labels = np.empty((length, *size), dtype=np.uint8)
    for i in range(length):
        images[i], labels[i] = generate_one(preset, split, i, size=size, seed=seed)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)  # uncompressed: loading stays ~instant
    atomic_write_bytes(path, buffer.getvalue())
    return images, labels


class SyntheticSegmentation(Dataset):
    """A cached synthetic segmentation split.

    Args:
        preset: ``"shapes"`` or ``"street"``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: an int (square) or ``(H, W)``; default the preset's size.
        length: number of images; default the preset's length for the split.
        seed: dataset seed (different seeds give different images).

    Shape:
        ``dataset[i]`` is ``(image float32 (3, H, W) in [0, 1], label int64 (H, W))``; label values are
        class ids or 255 (ignore).
    """

    ignore_index = IGNORE_INDEX

    def __init__(self, preset: str = "shapes", split: str = "train", size=None, length=None, seed: int = 0):
        self.spec = get_preset(preset)
        self.preset, self.split, self.seed = preset, split, seed
        self.images, self.labels = load_arrays(preset, split, size=size, length=length, seed=seed)
        self.size = tuple(self.labels.shape[1:])
        self.num_classes = len(self.spec.class_names)
        self.class_names = list(self.spec.class_names)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1).float().div_(255.0)
        return image, torch.from_numpy(self.labels[index]).long()

    def tensors(self, indices=None) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of images ``float32 (n, 3, H, W)`` and labels ``int64 (n, H, W)`` (all by default)."""
        sel = slice(None) if indices is None else np.asarray(indices, dtype=np.int64)
        images = torch.from_numpy(np.ascontiguousarray(self.images[sel])).permute(0, 3, 1, 2).float().div_(255.0)
        return images.contiguous(), torch.from_numpy(np.ascontiguousarray(self.labels[sel])).long()

    def __repr__(self) -> str:
        return (f"SyntheticSegmentation(preset={self.preset!r}, split={self.split!r}, size={self.size}, "
                f"length={len(self)}, seed={self.seed})")


def dominant_class(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Per image, the position in ``classes`` of the class covering the most pixels (ties: lower id).

    Args:
        labels: uint8 ``(L, H, W)``.
        classes: the candidate class ids.

    Returns:
        int64 ``(L,)``; ``-1`` where no candidate class is present.
    """
    counts = np.stack([(labels == c).reshape(len(labels), -1).sum(1) for c in classes], axis=1)
    return np.where(counts.max(1) > 0, counts.argmax(1), -1).astype(np.int64)


class SyntheticClassification(Dataset):
    """Classification variant (DS paper, Sec. 4): the label is the image's dominant thing class.

    ``shapes`` uses its 9 object classes (background excluded), ``street`` its 6 thing classes (pole,
    traffic light, sign, person, car, truck). Labels index ``class_names``. The rare images without
    any such class (none in ``shapes``; about 0.5 % in ``street``) are skipped, so ``len`` can be
    slightly below ``length``; ``indices`` holds the segmentation index of each item.

    Args:
        preset, split, size, length, seed: as for :class:`SyntheticSegmentation` (same cache).

    Shape:
        ``dataset[i]`` is ``(image float32 (3, H, W) in [0, 1], label int)``.
    """

    def __init__(self, preset: str = "shapes", split: str = "train", size=None, length=None, seed: int = 0):
        self.spec = get_preset(preset)
        self.preset, self.split, self.seed = preset, split, seed
        images, seg = load_arrays(preset, split, size=size, length=length, seed=seed)
        targets = dominant_class(seg, self.spec.thing_classes)
        self.indices = np.flatnonzero(targets >= 0)
        keep_all = len(self.indices) == len(targets)  # avoid copying the images when nothing is skipped
        self.images = images if keep_all else images[self.indices]
        self.targets = targets[self.indices]
        self.class_names = [self.spec.class_names[c] for c in self.spec.thing_classes]
        self.num_classes = len(self.class_names)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1).float().div_(255.0)
        return image, int(self.targets[index])

    def tensors(self, indices=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``float32 (n, 3, H, W)`` and class labels ``int64 (n,)`` (all by default)."""
        sel = slice(None) if indices is None else np.asarray(indices, dtype=np.int64)
        images = torch.from_numpy(np.ascontiguousarray(self.images[sel])).permute(0, 3, 1, 2).float().div_(255.0)
        return images.contiguous(), torch.from_numpy(self.targets[sel].copy())


def colourise(labels: np.ndarray, preset: str) -> np.ndarray:
    """Label map(s) to RGB uint8 ``(..., 3)`` with the preset's palette; ignore pixels are grey."""
    lut = np.full((256, 3), 128, dtype=np.uint8)
    pal = palette(preset)
    lut[: len(pal)] = pal
    return lut[np.asarray(labels, dtype=np.uint8)]


def render_grid(dataset, n: int = 8, *, columns: int = 4, indices=None):
    """A figure of ``n`` images, each above its colour-coded label map, plus a class legend.

    Args:
        dataset: a :class:`SyntheticSegmentation`.
        n: number of samples (the first ``n`` unless ``indices`` is given).
        columns: samples per row.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    idx = list(range(min(n, len(dataset)))) if indices is None else list(indices)
    cols = min(columns, len(idx))
    rows = -(-len(idx) // cols)
    h, w = dataset.size
    cell = 2.0  # inches per image width
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cell * cols + 2.0, 2 * rows * cell * h / w + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for j, i in enumerate(idx):
        r, c = divmod(j, cols)
        axes[2 * r, c].imshow(dataset.images[i])
        axes[2 * r, c].set_title(f"#{i}", fontsize=8)
        axes[2 * r + 1, c].imshow(colourise(dataset.labels[i], dataset.preset))
    pal = palette(dataset.preset) / 255.0
    handles = [Patch(facecolor=pal[k], edgecolor="k", label=name) for k, name in enumerate(dataset.class_names)]
    handles.append(Patch(facecolor=(0.5, 0.5, 0.5), edgecolor="k", label="ignore (255)"))
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    fig.subplots_adjust(left=0.01, right=1 - 2.0 / fig.get_figwidth(), top=0.95, bottom=0.01, wspace=0.04, hspace=0.12)
    return fig
