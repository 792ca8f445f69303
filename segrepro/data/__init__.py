"""Datasets: the synthetic presets (``shapes``, ``street``) and the real ones (``voc``, ``cityscapes``).

Example:
    >>> from segrepro.data import available, get_dataset
    >>> available()
    ['cityscapes', 'shapes', 'street', 'voc']
    >>> val = get_dataset("shapes", "val", length=16)

The real datasets are imported lazily (``segrepro.data.voc`` / ``segrepro.data.cityscapes``), so the
synthetic ones work without torchvision's dataset machinery or any download.
"""
from __future__ import annotations

import importlib

from .synthetic import PRESETS, SyntheticClassification, SyntheticSegmentation

_REAL = {"voc": ("segrepro.data.voc", "VOCSegmentationDataset"),
         "cityscapes": ("segrepro.data.cityscapes", "CityscapesDataset")}


def available() -> list[str]:
    """Names accepted by :func:`get_dataset`, sorted."""
    return sorted([*PRESETS, *_REAL])


def num_classes(name: str) -> int:
    """Classes of dataset ``name`` without building it (255 = ignore is not a class)."""
    if name in PRESETS:
        return len(PRESETS[name].class_names)
    if name in _REAL:
        module, cls = _REAL[name]
        return getattr(importlib.import_module(module), cls).num_classes
    raise ValueError(f"unknown dataset {name!r}; valid datasets: {available()}")


def get_dataset(name: str, split: str = "train", **kw):
    """Build a dataset by name.

    Args:
        name: one of :func:`available`.
        split: ``"train"``, ``"val"`` or ``"test"`` for synthetic presets; the real datasets accept
            what their module documents.
        **kw: passed on (synthetic: ``size``, ``length``, ``seed``; real: ``root`` and friends).

    Returns:
        A ``torch.utils.data.Dataset`` returning ``(image float32 (3,H,W) in [0,1], label int64 (H,W))``.
    """
    if name in PRESETS:
        return SyntheticSegmentation(name, split, **kw)
    if name in _REAL:
        module, cls = _REAL[name]
        return getattr(importlib.import_module(module), cls)(split=split, **kw)
    raise ValueError(f"unknown dataset {name!r}; valid datasets: {available()}")


__all__ = ["available", "get_dataset", "num_classes", "SyntheticSegmentation", "SyntheticClassification", "PRESETS"]
