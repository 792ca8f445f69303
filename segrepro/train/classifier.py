"""Training the DS Sec. 4 image classifiers (``vgg16_cls``, ``r18_cls``) with a checkpoint cache.

Same recipe as the segmentation zoo (``segrepro.train.core``): AdamW, one-cycle (10 % warm-up,
cosine), random horizontal flips, on the classification variant of a synthetic preset
(:class:`segrepro.data.SyntheticClassification`, label = the image's dominant object class).
Validation accuracy is recorded after every epoch, so the release manifest shows whether the
classifier reached a plateau.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm  # not tqdm.auto: it warns in kernels without ipywidgets

from ..devices import resolve_device
from ..models import release
from ..models.checkpoint import save_checkpoint
from ..models.classifiers import available_classifiers, build_classifier
from ..paths import cache_dir
from .cache import load_cached


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything that determines a trained classifier; ``key()`` hashes all of it.

    Args:
        model: ``vgg16_cls`` or ``r18_cls`` (see ``segrepro.models.available_classifiers()``).
        preset: synthetic preset of the classification variant.
        size: image side (None: the preset's default).
        width: base width. epochs: training passes. train_length, val_length: split sizes.
        batch_size, lr, weight_decay: the AdamW one-cycle recipe.
        seed: initialisation and shuffling seed.
    """

    model: str
    preset: str = "shapes"
    size: int | None = 96
    width: int = 8
    epochs: int = 2
    train_length: int = 1000
    val_length: int = 300
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self):
        if self.model not in available_classifiers():
            raise ValueError(f"unknown classifier {self.model!r}; valid names: {available_classifiers()}")

    def key(self) -> str:
        """Short stable hash of every field (and the data generator's version)."""
        from ..data.synthetic import VERSION as data_version

        text = json.dumps({**dataclasses.asdict(self), "_data_version": data_version}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def _split(config: ClassifierConfig, split: str, length: int):
    from ..data.synthetic import SyntheticClassification

    return SyntheticClassification(config.preset, split, size=config.size, length=length)


@torch.no_grad()
def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 64) -> float:
    """Top-1 accuracy of ``classifier`` on ``images`` (``labels`` of shape ``(N,)``)."""
    if len(images) == 0:
        raise ValueError("accuracy needs at least one image")
    device = next(classifier.parameters()).device
    right = 0
    for lo in range(0, len(images), batch_size):
        pred = classifier(images[lo:lo + batch_size].to(device)).argmax(1).cpu()
        right += int((pred == labels[lo:lo + batch_size].cpu()).sum())
    return right / len(images)


def classifier_path(config: ClassifierConfig):
    """Where the cache keeps the trained classifier of ``config``."""
    return cache_dir("models") / f"{config.model}-{config.preset}-{config.key()}.pt"


def train_classifier(config: ClassifierConfig, device=None, progress: bool = True) -> nn.Module:
    """Train a classifier from scratch and cache it; ``checkpoint_meta["history"]`` is per epoch."""
    device = resolve_device(device)
    train = _split(config, "train", config.train_length)
    steps = len(train) // config.batch_size
    if steps < 1:
        raise ValueError(f"{len(train)} training images are fewer than batch_size={config.batch_size}")
    val_x, val_y = _split(config, "val", config.val_length).tensors()
    torch.manual_seed(config.seed)
    model = build_classifier(config.model, train.num_classes, config.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps,
                                                pct_start=0.1)
    images, labels = train.tensors()
    gen = torch.Generator().manual_seed(config.seed)
    history = []
    with tqdm(total=config.epochs * steps, disable=not progress, desc=f"{config.model}/{config.preset}") as bar:
        for epoch in range(config.epochs):
            t0 = time.perf_counter()
            model.train()
            order = torch.randperm(len(train), generator=gen)
            for i in range(steps):
                idx = order[i * config.batch_size:(i + 1) * config.batch_size]
                x, y = images[idx].to(device), labels[idx].to(device)
                flip = (torch.rand(len(idx), generator=gen) < 0.5).to(device)
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)  # the label is flip-invariant
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
            model.eval()
            history.append({"epoch": epoch + 1, "train_loss": loss.item(), "seconds": time.perf_counter() - t0,
                            "val_accuracy": accuracy(model, val_x, val_y)})
            bar.set_postfix(epoch=epoch + 1, val_acc=f"{history[-1]['val_accuracy']:.3f}")
    meta = {"preset": config.preset, "key": config.key(), "train_config": dataclasses.asdict(config),
            "history": history, "val_accuracy": history[-1]["val_accuracy"],
            "train_seconds": sum(h["seconds"] for h in history)}
    save_checkpoint(model, classifier_path(config), meta)
    model.checkpoint_meta = meta
    return model.eval()


def get_classifier(config: ClassifierConfig, device=None, progress: bool = True) -> nn.Module:
    """The released classifier when ``config`` matches a release, else the cached one, else train it."""
    device = resolve_device(device)
    name = release.find(config.key())
    if name is not None:
        return release.load(name, device=device)
    model = load_cached(classifier_path(config), device,
                        lambda m: None if m.config.get("name") == config.model else m.config.get("name"), config.model)
    return model if model is not None else train_classifier(config, device=device, progress=progress)
