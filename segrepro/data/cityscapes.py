"""Cityscapes (fine annotations, semantic) with the 34 label ids mapped to the 19 evaluation classes.

Files are found by ``torchvision.datasets.Cityscapes`` (``mode="fine"``, ``target_type="semantic"``,
which reads ``*_gtFine_labelIds.png``). The label-id -> train-id table is torchvision's copy of the
official ``cityscapesScripts`` table: 19 classes (road ... bicycle) keep ids 0..18, every other id
(void classes, parking, rail track, guard rail, bridge, tunnel, polegroup, caravan, trailer) becomes 255.

Evaluation-time preprocessing (``size``): frames are 1024x2048. SegPGD and DS evaluate Cityscapes at
512x1024 (half resolution); an int S resizes to (S, 2S), keeping the 1:2 aspect with no crop; (H, W)
resizes to exactly that; None keeps 1024x2048. Images bilinear with antialiasing, labels nearest.
No normalisation (models normalise inside).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from .voc import FileSegmentation, SizeLike

CITYSCAPES_SPLITS = ("train", "val", "test")
CITYSCAPES_LAYOUT = """root/leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
root/gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png
(the unzipped leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip)"""


def label_id_to_train_id() -> np.ndarray:
    """Lookup table (256,) uint8: label id (0..33) -> train id (0..18), 255 for all other values."""
    from torchvision.datasets import Cityscapes

    table = np.full(256, 255, dtype=np.uint8)
    for c in Cityscapes.classes:
        if 0 <= c.id and 0 <= c.train_id < 255:
            table[c.id] = c.train_id
    return table


def _train_classes():
    from torchvision.datasets import Cityscapes

    return sorted((c for c in Cityscapes.classes if 0 <= c.train_id < 255), key=lambda c: c.train_id)


CITYSCAPES_CLASSES = tuple(c.name for c in _train_classes())
CITYSCAPES_PALETTE = np.array([c.color for c in _train_classes()], dtype=np.uint8)


class CityscapesDataset(FileSegmentation):
    """Cityscapes fine semantic labels through ``torchvision.datasets.Cityscapes``.

    Args:
        root: folder holding ``leftImg8bit`` and ``gtFine`` (see ``CITYSCAPES_LAYOUT``).
        split: ``train`` (2975), ``val`` (500) or ``test`` (1525; its public labels are all void).
        size: int S -> (S, 2S); (H, W) -> exactly that; None -> native 1024x2048.
        length: keep only the first ``length`` images (files sorted by name, so runs are reproducible).

    Raises:
        ValueError: unknown split. FileNotFoundError: missing root, folders or label files.
    """

    num_classes = 19
    class_names = CITYSCAPES_CLASSES
    palette = CITYSCAPES_PALETTE
    layout = CITYSCAPES_LAYOUT

    def __init__(self, root: str | Path, split: str = "val", size: SizeLike = None, length: int | None = None):
        from torchvision.datasets import Cityscapes

        if split not in CITYSCAPES_SPLITS:
            raise ValueError(f"unknown Cityscapes split {split!r}; valid: {list(CITYSCAPES_SPLITS)}")
        needed = [Path(root) / "leftImg8bit" / split, Path(root) / "gtFine" / split]
        absent = [str(p) for p in needed if not p.is_dir()]
        if absent:  # checked here so torchvision never tries to unpack archives into the user's root
            raise FileNotFoundError(f"Cityscapes not found under {str(root)!r}: missing {absent}. "
                                    f"Expected layout:\n{CITYSCAPES_LAYOUT}")
        base = Cityscapes(str(root), split=split, mode="fine", target_type="semantic")
        # torchvision lists files in os.listdir order, which differs between filesystems
        pairs = sorted(zip(base.images, (t[0] for t in base.targets)))
        if not pairs:
            raise FileNotFoundError(f"no *_leftImg8bit.png files under {needed[0]}; expected layout:\n"
                                    f"{CITYSCAPES_LAYOUT}")
        self.root, self.split = Path(root), split
        self._lut = label_id_to_train_id()
        if size is not None and isinstance(size, int):
            size = (size, 2 * size)
        super().__init__([p[0] for p in pairs], [p[1] for p in pairs], size, length)

    def _map_labels(self, label: np.ndarray) -> np.ndarray:
        return self._lut[label]

    def _resize(self, image: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Resize to exactly ``size`` (no crop: the 1:2 frames keep their aspect at (S, 2S))."""
        image = TF.resize(image, list(self.size), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        return image, TF.resize(label, list(self.size), interpolation=TF.InterpolationMode.NEAREST)


# the name segrepro.data.get_dataset("cityscapes", ...) looks up
CityscapesSegmentation = CityscapesDataset
