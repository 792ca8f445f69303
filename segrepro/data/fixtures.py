"""Tiny but structurally real PASCAL VOC and Cityscapes trees, for tests and for a rehearsal of a real run.

Nothing can be downloaded here, so the real-data code path (``segrepro.data.voc`` and
``segrepro.data.cityscapes`` on top of torchvision's readers) is exercised on generated trees that
have the same folders, file names and label encodings as the official releases. Contents are
deterministic so tests can state expected labels by hand:

* VOC image k (k counts train then val then the SBD-only extras) is grey with one rectangle of class
  ``1 + k % 20`` over rows ``[H/4, 3H/4)`` and columns ``[W/4, 3W/4)``; the rectangle's outermost
  one-pixel ring is labelled 255 (VOC's "boundary/ignore" band); everything else is background 0.
* Cityscapes image k has four horizontal bands of label ids 23 (sky), 11 (building), 7 (road) and
  1 (ego vehicle), plus a box of id ``(26, 24, 33)[k % 3]`` (car, person, bicycle) over rows
  ``[H/2, 3H/4)`` and columns ``[W/4, W/2)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .voc import voc_palette

VOC_SUBDIR = Path("VOCdevkit") / "VOC2012"
CITYSCAPES_BANDS = (23, 11, 7, 1)
CITYSCAPES_BOX_IDS = (26, 24, 33)


def _voc_label(k: int, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    label = np.zeros((h, w), dtype=np.uint8)
    top, bottom, left, right = h // 4, 3 * h // 4, w // 4, 3 * w // 4
    label[top:bottom, left:right] = 255
    label[top + 1:bottom - 1, left + 1:right - 1] = 1 + k % 20
    return label


def _image_from_label(label: np.ndarray, colours: np.ndarray, k: int) -> Image.Image:
    rng = np.random.default_rng(k)
    rgb = colours[label].astype(np.int16) + rng.integers(-12, 13, size=(*label.shape, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def make_fake_voc(root: str | Path, n: int = 4, size: tuple[int, int] = (64, 80)) -> Path:
    """Write a tiny VOC 2012 tree (plus SBD-style ``trainaug`` extras) under ``root``.

    Layout (as in ``VOCtrainval_11-May-2012.tar`` and the usual SBD "SegmentationClassAug" add-on)::

        root/VOCdevkit/VOC2012/JPEGImages/<id>.jpg
        root/VOCdevkit/VOC2012/SegmentationClass/<id>.png        palette PNG, 255 = boundary
        root/VOCdevkit/VOC2012/SegmentationClassAug/<id>.png     grey PNG of class ids (SBD + VOC)
        root/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval,train_aug}.txt

    Args:
        root: folder to create (may exist).
        n: images per split: n train, n val, and n SBD-only extras that appear only in ``train_aug.txt``.
        size: (H, W) of every image.

    Returns:
        ``root`` as a Path (pass it as ``root=`` to ``VOCSegmentationDataset``).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    root = Path(root)
    voc = root / VOC_SUBDIR
    dirs = {name: voc / name for name in ("JPEGImages", "SegmentationClass", "SegmentationClassAug")}
    sets = voc / "ImageSets" / "Segmentation"
    for d in (*dirs.values(), sets):
        d.mkdir(parents=True, exist_ok=True)
    palette = voc_palette()
    grey_background = palette.copy()
    grey_background[0] = grey_background[255] = (128, 128, 128)
    ids = {"train": [], "val": [], "extra": []}
    for k, part in enumerate(["train"] * n + ["val"] * n + ["extra"] * n):
        image_id = f"2008_{k:06d}"
        ids[part].append(image_id)
        label = _voc_label(k, size)
        _image_from_label(label, grey_background, k).save(dirs["JPEGImages"] / f"{image_id}.jpg", quality=95)
        Image.fromarray(label).save(dirs["SegmentationClassAug"] / f"{image_id}.png")
        if part != "extra":  # SBD-only images have no VOC palette label
            png = Image.frombytes("P", label.shape[::-1], label.tobytes())
            png.putpalette(palette.reshape(-1).tolist())
            png.save(dirs["SegmentationClass"] / f"{image_id}.png")
    lists = {"train": ids["train"], "val": ids["val"], "trainval": ids["train"] + ids["val"],
             "train_aug": ids["train"] + ids["extra"]}
    for name, names in lists.items():
        (sets / f"{name}.txt").write_text("".join(f"{x}\n" for x in names))
    return root


def _cityscapes_label(k: int, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    label = np.zeros((h, w), dtype=np.uint8)
    for band, label_id in enumerate(CITYSCAPES_BANDS):
        label[band * h // 4:(band + 1) * h // 4] = label_id
    label[h // 2:3 * h // 4, w // 4:w // 2] = CITYSCAPES_BOX_IDS[k % 3]
    return label


def make_fake_cityscapes(root: str | Path, n: int = 3, size: tuple[int, int] = (64, 128)) -> Path:
    """Write a tiny Cityscapes tree (fine annotations) under ``root``.

    Layout (as in ``leftImg8bit_trainvaltest.zip`` and ``gtFine_trainvaltest.zip``)::

        root/leftImg8bit/{train,val}/<city>/<city>_000000_<k>_leftImg8bit.png
        root/gtFine/{train,val}/<city>/<city>_000000_<k>_gtFine_labelIds.png   label ids 0..33
        root/gtFine/{train,val}/<city>/<city>_000000_<k>_gtFine_color.png

    Args:
        root: folder to create (may exist).
        n: images per split (train in ``aachen``, val in ``frankfurt``).
        size: (H, W); the real frames are 1024x2048, keep the 1:2 aspect.

    Returns:
        ``root`` as a Path.
    """
    from torchvision.datasets import Cityscapes

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    root = Path(root)
    colours = np.zeros((256, 3), dtype=np.uint8)
    for c in Cityscapes.classes:
        if c.id >= 0:
            colours[c.id] = c.color
    k = 0
    for split, city in (("train", "aachen"), ("val", "frankfurt")):
        image_dir, label_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            stem = f"{city}_000000_{i:06d}"
            label = _cityscapes_label(k, size)
            _image_from_label(label, colours, k).save(image_dir / f"{stem}_leftImg8bit.png")
            Image.fromarray(label).save(label_dir / f"{stem}_gtFine_labelIds.png")
            Image.fromarray(colours[label]).save(label_dir / f"{stem}_gtFine_color.png")
            k += 1
    return root
