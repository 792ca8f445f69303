"""DS paper Sec. 4 (Figs 1-2): do BIM examples overfit the source classifier?

Gu et al. (arXiv 2111.11368, Sec. 4, Eq. 1-2) attack ImageNet classifiers (VGG16, ResNet50, ...) with
BIM and report the accuracy of *other* classifiers on the examples against the number of
iterations: transfer first improves, then degrades (overfitting), more so from ResNet sources.

Our scale **[ours]**: the classification variant of ``shapes``
(:class:`segrepro.data.synthetic.SyntheticClassification`, label = dominant object class) and two
small classifiers of :func:`segrepro.models.classifiers.build_classifier` (``vgg16_cls``, ``r18_cls``:
the zoo's VGG16-BN and ResNet-18 trunks, pooled), trained here for a few epochs and cached under
``cache_dir("models")``. Each is attacked with BIM and the examples are classified by both.

The attack runs through the segmentation engine (``segrepro.attacks.attack``) with a thin wrapper,
:class:`PixelwiseClassifier`: the class logits ``(N,C)`` are broadcast to every pixel ``(N,C,H,W)`` and
the label to ``(N,H,W)``. (A 1x1 map would be the literal reading, but the engine checks that logits
and labels have the input's spatial size.) The pixel-mean cross-entropy of identical pixels equals
the classification cross-entropy (Eq. 2), so the sign step is exactly BIM of Eq. 1.

Seeds: BIM is deterministic, so the "seeds" of this study are disjoint blocks of evaluation images
(block ``i`` holds images ``i*n .. (i+1)*n - 1``); the 95 % intervals are over image blocks. Rows use
``grid="classification"``, ``preset="shapes"``, metric ``accuracy`` (iteration 0 = clean images), and
``val_accuracy`` / ``train_seconds`` for the trained classifiers (``method="clean"``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import torch
from torch import nn

from segrepro.data.synthetic import SyntheticClassification
from segrepro.studies.dynamic_scaling.grids import NAME, ablation_images, long_snapshots
from segrepro.train.classifier import accuracy, get_classifier

GRID = "classification"
CLASSIFIERS = ("vgg16_cls", "r18_cls")


@dataclass(frozen=True)
class ClsSettings:
    """Everything that determines the classification study's numbers (hashed into cell keys).

    Attributes:
        classifier: Training recipe of both classifiers (``segrepro.train.ClassifierConfig`` fields
            besides ``model``): the embedded profile names the released recipe, so nothing is trained.
        n_images: Evaluation images per block. blocks: Block ids (the profile's seeds).
        eps, alpha, steps, snapshots: The BIM attack.
    """

    classifier: tuple = ()
    n_images: int = 16
    blocks: tuple[int, ...] = (0,)
    eps: tuple[float, ...] = (0.03,)
    alpha: float = 0.01
    steps: int = 100
    snapshots: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100)

    @classmethod
    def from_profile(cls, profile) -> "ClsSettings":
        """Scale the study from a profile: its classifier recipe, image count, eps, seeds and long run."""
        steps = min(profile.long_steps, 1000)
        recipe = {"size": profile.image_size, **dict(profile.classifier_train)}
        return cls(classifier=tuple(sorted(recipe.items())), n_images=ablation_images(profile),
                   blocks=tuple(profile.seeds), eps=tuple(profile.eps), alpha=profile.alpha, steps=steps,
                   snapshots=tuple(t for t in long_snapshots(profile) if t <= steps))

    def config(self, name: str):
        """The ``ClassifierConfig`` of classifier ``name``."""
        from segrepro.train.classifier import ClassifierConfig

        return ClassifierConfig(model=name, **dict(self.classifier))

    @property
    def preset(self) -> str:
        return self.config(CLASSIFIERS[0]).preset

    def key(self, *parts) -> str:
        """Hash of every field plus ``parts`` (an attack cell's key)."""
        return _hash([dataclasses.asdict(self), *parts])

    def train_key(self) -> str:
        """Hash of the training recipe only (the attack fields do not change the classifiers)."""
        return _hash([self.config(n).key() for n in CLASSIFIERS])


def _hash(payload) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:12]


class PixelwiseClassifier(nn.Module):
    """A classifier seen as a segmentation model: its logits repeated at every pixel.

    Args:
        classifier: Maps images ``(N,3,H,W)`` in [0,1] to logits ``(N,C)``.

    Shape:
        ``(N,3,H,W)`` -> ``(N,C,H,W)`` (a broadcast view: no copy).
    """

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.num_classes = int(classifier.num_classes)
        self.config = dict(getattr(classifier, "config", {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.classifier(x)
        return z[:, :, None, None].expand(-1, -1, *x.shape[-2:])


def pixel_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Class labels ``(N,)`` as label maps ``(N,H,W)`` (every pixel holds the image's class)."""
    if labels.dim() != 1:
        raise ValueError(f"class labels must have shape (N,), got {tuple(labels.shape)}")
    return labels.view(-1, 1, 1).expand(-1, *size).contiguous()


def bim_classifier(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, eps: float,
                   alpha: float, steps: int, snapshots) -> dict[int, torch.Tensor]:
    """BIM (DS Eq. 1) on a classifier through the segmentation engine; examples at each snapshot."""
    from segrepro.attacks import attack

    return attack(PixelwiseClassifier(classifier), images, pixel_labels(labels, images.shape[-2:]), "bim",
                  eps=eps, alpha=alpha, steps=steps, snapshots=list(snapshots))


def _row(s: ClsSettings, cell: str, **kw) -> dict:
    base = dict(study=NAME, preset=s.preset, grid=GRID, cell=cell, eval_scale="1", params="{}")
    return {**base, **kw}


def run(profile, store, device=None, progress: bool = True, settings: ClsSettings | None = None) -> None:
    """Train both classifiers, attack each with BIM, store every classifier's accuracy (resumable).

    Args:
        profile: The run profile (scales :class:`ClsSettings`).
        store: The study's ``ResultStore``.
        device: Where to train and attack (default: CUDA when available).
        progress: tqdm bars while training.
        settings: Override the settings derived from ``profile``.
    """
    s = settings or ClsSettings.from_profile(profile)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train_cells = {n: f"dscls-train-{s.train_key()}-{n}" for n in CLASSIFIERS}
    attack_cells = {(src, e, b): f"dscls-{s.key(src, e, b)}" for src in CLASSIFIERS for e in s.eps for b in s.blocks}
    if all(store.has_cell(c) for c in (*train_cells.values(), *attack_cells.values())):
        return
    models = {n: get_classifier(s.config(n), device=device, progress=progress) for n in CLASSIFIERS}
    for n, cell in train_cells.items():
        if not store.has_cell(cell):
            meta = models[n].checkpoint_meta
            store.add([_row(s, cell, source="-", target=n, method="clean", eps=0.0, iteration=0, seed=0,
                            metric=m, value=float(meta[m])) for m in ("val_accuracy", "train_seconds")])
    total = s.n_images * len(s.blocks)
    val = SyntheticClassification(s.preset, "val", size=s.config(CLASSIFIERS[0]).size, length=total)
    if len(val) < total:
        raise ValueError(f"the classification val split has {len(val)} images, the study needs {total}")
    images, labels = val.tensors(list(range(total)))
    for (src, e, b), cell in attack_cells.items():
        if store.has_cell(cell):
            continue
        i = s.blocks.index(b)
        x, y = images[i * s.n_images:(i + 1) * s.n_images].to(device), labels[i * s.n_images:(i + 1) * s.n_images].to(device)
        snaps = bim_classifier(models[src], x, y, eps=e, alpha=s.alpha, steps=s.steps, snapshots=s.snapshots)
        snaps = {0: x, **snaps}
        store.add([_row(s, cell, source=src, target=t, method="bim", eps=e, iteration=it, seed=b, metric="accuracy",
                        value=accuracy(models[t], adv, y)) for t in CLASSIFIERS for it, adv in snaps.items()])
