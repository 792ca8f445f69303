"""PASCAL VOC 2012 semantic segmentation (optionally with the SBD-augmented training list).

Files are found by ``torchvision.datasets.VOCSegmentation`` (``download=False``: nothing is ever
fetched). Labels are palette PNGs whose palette index is the class id (0 = background, 1..20 the
object classes) and 255 the boundary band, which every paper ignores in the loss and the metrics.

Evaluation-time preprocessing (``size``): the attack papers evaluate VOC val at 512 px (SegPGD,
TranSegPGD, DS and RP-PGD all use mmseg's ``Resize(2048x512, keep_ratio)``). Batches must stack,
so here the shorter side is resized to ``size`` (bilinear with antialiasing for images, nearest for
labels) and the centre ``size x size`` square is cut out. ``size=None`` keeps native sizes (batch 1).
No normalisation: images stay in [0,1]; every model normalises inside (the model contract).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch.utils.data import Dataset

from ..validation import IGNORE_INDEX

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
VOC_SPLITS = ("train", "val", "trainval", "trainaug")
VOC_LAYOUT = """root/VOCdevkit/VOC2012/JPEGImages/<id>.jpg
root/VOCdevkit/VOC2012/SegmentationClass/<id>.png            (palette PNG, 255 = boundary)
root/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt
for split='trainaug' also (SBD, e.g. the common 'SegmentationClassAug' add-on):
root/VOCdevkit/VOC2012/SegmentationClassAug/<id>.png         (class-id PNG)
root/VOCdevkit/VOC2012/ImageSets/Segmentation/train_aug.txt  (10582 ids)"""

SizeLike = int | Sequence[int] | None


def voc_palette(num_colours: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: bits of the class index spread over the high bits of R, G and B.

    Returns:
        uint8 array (num_colours, 3); entry 255 is the boundary colour (224, 224, 192).
    """
    palette = np.zeros((num_colours, 3), dtype=np.uint8)
    for index in range(num_colours):
        c, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[index] = (r, g, b)
    return palette


def _as_hw(size: SizeLike) -> tuple[int, int] | None:
    if size is None:
        return None
    hw = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
    return hw


class FileSegmentation(Dataset):
    """Image/label file pairs read on demand; the common part of the VOC and Cityscapes loaders.

    Subclasses fill ``image_paths``/``label_paths`` and may override ``_map_labels`` and ``_resize``.

    Attributes:
        num_classes, class_names, ignore_index (255), palette (uint8 (num_classes, 3)).
    """

    num_classes: int
    class_names: tuple[str, ...]
    ignore_index = IGNORE_INDEX
    palette: np.ndarray

    def __init__(self, image_paths: list[str], label_paths: list[str], size: SizeLike, length: int | None):
        if length is not None:
            if not isinstance(length, int) or length < 1:
                raise ValueError(f"length must be a positive int or None, got {length!r}")
            image_paths, label_paths = image_paths[:length], label_paths[:length]
        self.size = _as_hw(size)
        self.image_paths, self.label_paths = list(image_paths), list(label_paths)
        missing = [p for p in (*self.image_paths, *self.label_paths) if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"{len(missing)} listed file(s) are missing, e.g. {missing[0]}; "
                                    f"expected layout:\n{self.layout}")

    layout = ""

    def __len__(self) -> int:
        return len(self.image_paths)

    def _map_labels(self, label: np.ndarray) -> np.ndarray:
        return label

    def _resize(self, image: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shorter side to ``size`` then centre crop (VOC policy; see the module docstring)."""
        h, w = self.size
        scale = max(h / image.shape[-2], w / image.shape[-1])
        new = [max(h, round(image.shape[-2] * scale)), max(w, round(image.shape[-1] * scale))]
        image = TF.resize(image, new, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        label = TF.resize(label, new, interpolation=TF.InterpolationMode.NEAREST)
        return TF.center_crop(image, [h, w]), TF.center_crop(label, [h, w])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (image float32 (3,H,W) in [0,1], label int64 (H,W): class ids, 255 = ignore)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        with Image.open(self.image_paths[index]) as im:
            image = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)
        with Image.open(self.label_paths[index]) as lab:
            if lab.mode not in ("P", "L"):
                raise ValueError(f"{self.label_paths[index]} is a {lab.mode} image; labels must be single-channel "
                                 "8-bit class-id PNGs (palette or greyscale), not colour renderings")
            label = np.array(lab)
        # uint8 until after resizing: nearest interpolation is defined for uint8, not int64
        label = torch.from_numpy(np.ascontiguousarray(self._map_labels(label), dtype=np.uint8))
        if label.shape != image.shape[-2:]:
            raise ValueError(f"label {self.label_paths[index]} is {tuple(label.shape)} but its image is "
                             f"{tuple(image.shape[-2:])}")
        if self.size is not None:
            image, label = self._resize(image, label[None])
            label = label[0]
        return image.float().div_(255), label.long()

    def tensors(self, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Stack items into (images float (n,3,H,W), labels int64 (n,H,W)); needs a fixed ``size``."""
        indices = range(len(self)) if indices is None else indices
        items = [self[i] for i in indices]
        if not items:
            raise ValueError("no images selected")
        shapes = {tuple(x.shape) for x, _ in items}
        if len(shapes) > 1:
            raise ValueError(f"images have different sizes {sorted(shapes)[:3]}; pass size= to stack them")
        return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


class VOCSegmentationDataset(FileSegmentation):
    """PASCAL VOC 2012 segmentation through ``torchvision.datasets.VOCSegmentation``.

    Args:
        root: folder holding ``VOCdevkit/VOC2012`` (see ``VOC_LAYOUT``).
        split: ``train`` (1464), ``val`` (1449), ``trainval``, or ``trainaug`` (SBD-augmented train, 10582).
        size: evaluation size: int S (shorter side to S, centre S x S crop) or (H, W); None = native.
        length: keep only the first ``length`` images of the list (at most all of them).
        sbd_list: for ``trainaug``: the id list (default ``ImageSets/Segmentation/train_aug.txt``).
        sbd_labels: for ``trainaug``: the label folder (default ``SegmentationClassAug``).

    Raises:
        ValueError: unknown split. FileNotFoundError: missing root, list, folder or listed file.
    """

    num_classes = 21
    class_names = VOC_CLASSES
    palette = voc_palette(256)[:21]
    layout = VOC_LAYOUT

    def __init__(self, root: str | Path, split: str = "val", size: SizeLike = None, length: int | None = None,
                 sbd_list: str | Path | None = None, sbd_labels: str | Path | None = None):
        from torchvision.datasets import VOCSegmentation

        if split not in VOC_SPLITS:
            raise ValueError(f"unknown VOC split {split!r}; valid: {list(VOC_SPLITS)}")
        voc_root = Path(root) / "VOCdevkit" / "VOC2012"
        sets = voc_root / "ImageSets" / "Segmentation"
        needed = [voc_root / "JPEGImages", sets / f"{'train' if split == 'trainaug' else split}.txt"]
        if split != "trainaug":
            needed.append(voc_root / "SegmentationClass")
        absent = [str(p) for p in needed if not p.exists()]
        if absent:
            raise FileNotFoundError(f"PASCAL VOC not found under {str(root)!r}: missing {absent}. "
                                    f"Expected layout:\n{VOC_LAYOUT}")
        base = VOCSegmentation(str(root), year="2012", image_set="train" if split == "trainaug" else split,
                               download=False)
        images, labels = list(base.images), list(base.masks)
        if split == "trainaug":
            images, labels = self._sbd_pairs(voc_root, sbd_list, sbd_labels)
        self.root, self.split = Path(root), split
        super().__init__(images, labels, size, length)

    @staticmethod
    def _sbd_pairs(voc_root: Path, sbd_list, sbd_labels) -> tuple[list[str], list[str]]:
        id_list = Path(sbd_list) if sbd_list else voc_root / "ImageSets" / "Segmentation" / "train_aug.txt"
        label_dir = Path(sbd_labels) if sbd_labels else voc_root / "SegmentationClassAug"
        absent = [str(p) for p in (id_list, label_dir) if not p.exists()]
        if absent:
            raise FileNotFoundError(f"split 'trainaug' needs the SBD id list and labels: missing {absent}. "
                                    f"Expected layout:\n{VOC_LAYOUT}")
        # lists come as '<id>' or as '/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png' pairs
        ids = [Path(line.split()[0]).stem for line in id_list.read_text().splitlines() if line.strip()]
        return ([str(voc_root / "JPEGImages" / f"{i}.jpg") for i in ids],
                [str(label_dir / f"{i}.png") for i in ids])


# the name segrepro.data.get_dataset("voc", ...) looks up
VOCSegmentation = VOCSegmentationDataset
