"""Training a zoo model on a preset: AdamW + one-cycle, flips, optional scale augmentation.

The recipe (design.md, "Measured starting points") trained the 96 px zoo to 58-64 % val mIoU in
2-4 minutes each on 2 cores: AdamW (lr 3e-3, weight decay 1e-4), one-cycle schedule (Smith &
Topin 2017, arXiv:1708.07120; 10 % warm-up, cosine annealing), batch 16, 8 epochs of 2000 images,
random horizontal flips. Adversarial training (spec "Adversarial training") swaps each batch for the
output of ``segrepro.train.adversarial.adversarial_batch`` when ``at_method`` is set.

Runs are deterministic for a seed: every epoch draws its shuffling and augmentation from a generator
seeded by ``(seed, epoch)`` and reseeds torch's global generator (dropout), so a run resumed from its
per-epoch checkpoint makes the same updates as an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm  # not tqdm.auto: it warns in kernels without ipywidgets

from ..devices import resolve_device
from ..metrics import evaluate
from ..models import build
from ..models.checkpoint import atomic_torch_save, load_checkpoint, safe_load, save_checkpoint
from ..models.wrap import SegModel
from ..models.zoo import available
from ..validation import IGNORE_INDEX, check_images, check_labels
from .cache import init_path, model_path, partial_path

PARTIAL_FORMAT = "segrepro-partial/1"
# Salted into every cache key: bump it when a change to the models or the training loop makes
# previously cached checkpoints stale (the config alone cannot see code changes).
CACHE_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model; ``key()`` hashes all of it.

    Args:
        model: zoo name (see ``segrepro.models.available()``).
        preset: dataset name for ``segrepro.data.get_dataset`` (``shapes``, ``street``, ...).
        width: model base width (16 = torchvision / 4).
        size: image size passed to the dataset (None: the preset's default).
        epochs: passes over the training split.
        train_length, val_length: images in the train / val splits.
        batch_size: images per step (incomplete last batches are dropped).
        lr: AdamW peak learning rate of the one-cycle schedule.
        weight_decay: AdamW decoupled weight decay.
        warmup: fraction of the steps spent warming up (one-cycle ``pct_start``).
        scale_aug: rescale each batch by a random factor in [0.75, 1.25].
        seed: model initialisation, shuffling and augmentation seed.
        data_seed: dataset generation seed.
        at_method: attack used for adversarial training (None: clean training).
        at_steps, at_eps, at_alpha: the training attack's iterations, L-inf budget and step size.
        init_from: key (or path) of a cached clean checkpoint to fine-tune from.
    """

    model: str
    preset: str
    width: int = 16
    size: Any = None
    epochs: int = 8
    train_length: int = 2000
    val_length: int = 300
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: float = 0.1
    scale_aug: bool = False
    seed: int = 0
    data_seed: int = 0
    at_method: str | None = None
    at_steps: int = 3
    at_eps: float = 0.03
    at_alpha: float = 0.01
    init_from: str | None = None

    def __post_init__(self):
        if self.model not in available():
            raise ValueError(f"unknown model {self.model!r}; valid names: {available()}")
        for name in ("width", "epochs", "train_length", "val_length", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"TrainConfig.warmup must lie in [0, 1), got {self.warmup}")

    def key(self) -> str:
        """Short stable hash: sha1 of the sorted JSON of every field.

        Salted with ``CACHE_VERSION`` and the synthetic data generator's ``VERSION``, so a change to
        the training code or to the data invalidates cached checkpoints.
        """
        from ..data.synthetic import VERSION as data_version  # lazy: data imports nothing from here

        salt = {"_cache_version": CACHE_VERSION, "_data_version": data_version}
        text = json.dumps({**asdict(self), **salt}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_split(config: TrainConfig, split: str):
    """The dataset split a config trains (``train``) or validates (``val``) on."""
    from ..data import get_dataset  # lazy: keeps models/metrics importable without the data package

    length = config.train_length if split == "train" else config.val_length
    return get_dataset(config.preset, split, size=config.size, length=length, seed=config.data_seed)


def _batch(dataset, idx: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if callable(getattr(dataset, "tensors", None)):  # SyntheticSegmentation's fast batched path
        images, labels = dataset.tensors(idx)
    else:
        items = [dataset[i] for i in idx]
        images = torch.stack([x for x, _ in items])
        labels = torch.stack([torch.as_tensor(y) for _, y in items])
    return images.to(device), labels.to(device)


def _augment(images: torch.Tensor, labels: torch.Tensor, scale_aug: bool,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal flip per image; optionally one random rescale of the batch (labels nearest)."""
    flip = (torch.rand(len(images), generator=generator) < 0.5).to(images.device)
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    labels = torch.where(flip[:, None, None], labels.flip(-1), labels)
    if scale_aug:
        s = 0.75 + 0.5 * torch.rand(1, generator=generator).item()
        # multiples of 8 keep the stride-8 feature maps aligned; 32 px is VGG's minimum (five poolings)
        size = [max(32, round(d * s / 8) * 8) for d in images.shape[-2:]]
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False).clamp_(0, 1)
        labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
    return images, labels


def _epoch_generator(config: TrainConfig, epoch: int) -> torch.Generator:
    # one stream per (seed, epoch): a resumed run draws exactly what the uninterrupted run drew
    torch.manual_seed(config.seed * 100_003 + epoch)
    return torch.Generator().manual_seed(config.seed * 100_003 + epoch)


def _run_epoch(model: SegModel, optimizer, scheduler, dataset, config: TrainConfig, epoch: int,
               device: torch.device, bar) -> float:
    """One pass over the training split; returns the mean training loss."""
    generator = _epoch_generator(config, epoch)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    steps = len(dataset) // config.batch_size
    total = torch.zeros((), device=device)
    model.train()
    for step in range(steps):
        images, labels = _batch(dataset, order[step * config.batch_size:(step + 1) * config.batch_size], device)
        images, labels = _augment(images, labels, config.scale_aug, generator)
        if config.at_method:
            from .adversarial import adversarial_batch  # owned by the adversarial-training issue

            images, labels = adversarial_batch(model, images, labels, config, generator)
            model.train()
        loss = F.cross_entropy(model(images), labels, ignore_index=IGNORE_INDEX)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.detach()
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
    return float(total) / max(steps, 1)


def _fresh_state(config: TrainConfig, num_classes: int, steps: int, device: torch.device):
    """A new model (or the ``init_from`` weights), AdamW and the one-cycle schedule."""
    torch.manual_seed(config.seed)
    model = build(config.model, num_classes, config.width).to(device)
    if config.init_from:
        load_checkpoint(init_path(config), model, map_location=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps, pct_start=config.warmup,
        anneal_strategy="cos")
    return model, optimizer, scheduler


def train_model(config: TrainConfig, device: torch.device | str | None = None, progress: bool = True) -> SegModel:
    """Train ``config.model`` on ``config.preset``, validating each epoch, and cache the result.

    Resumable: after each epoch the weights, optimizer, schedule and history go to
    :func:`~segrepro.train.cache.partial_path`; rerunning the same config after a kill continues
    from the last finished epoch. The final checkpoint goes to :func:`~segrepro.train.cache.model_path`.

    Args:
        config: what to train.
        device: where to train (default: CUDA if available, else CPU).
        progress: show a tqdm bar.

    Returns:
        The trained model in eval mode on ``device``; ``model.checkpoint_meta`` holds the preset,
        the config, the per-epoch history and the final val mIoU.
    """
    device = resolve_device(device)
    train_ds, val_ds = load_split(config, "train"), load_split(config, "val")
    steps = len(train_ds) // config.batch_size
    if steps < 1:
        raise ValueError(f"the training split has {len(train_ds)} images, fewer than batch_size={config.batch_size}")
    probe_x, probe_y = _batch(train_ds, [0], torch.device("cpu"))
    check_images(probe_x, name="training images")
    check_labels(probe_y, train_ds.num_classes, images=probe_x, name="training labels")

    model, optimizer, scheduler = _fresh_state(config, train_ds.num_classes, steps, device)
    start, history = 0, []
    partial = partial_path(config)
    if partial.is_file():
        try:
            state = safe_load(partial, map_location=device)
            if state.get("format") != PARTIAL_FORMAT:
                raise ValueError("not a segrepro resume checkpoint")
            if state.get("key", config.key()) != config.key():  # files written before keys were stored have none
                raise ValueError(f"it belongs to config key {state['key']}, not {config.key()}")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start, history = int(state["epoch"]), list(state["history"])
        except (ValueError, KeyError, RuntimeError, AttributeError) as err:
            warnings.warn(f"ignoring unusable resume checkpoint {partial}: {err}", stacklevel=2)
            model, optimizer, scheduler = _fresh_state(config, train_ds.num_classes, steps, device)

    with tqdm(total=config.epochs * steps, initial=start * steps, disable=not progress,
              desc=f"{config.model}/{config.preset}") as bar:
        for epoch in range(start, config.epochs):
            t0, c0 = time.perf_counter(), time.process_time()
            loss = _run_epoch(model, optimizer, scheduler, train_ds, config, epoch, device, bar)
            val = evaluate(model, val_ds, batch_size=32)
            history.append({"epoch": epoch + 1, "train_loss": loss, "val_miou": val["miou"],
                            "val_pixel_accuracy": val["pixel_accuracy"], "seconds": time.perf_counter() - t0,
                            "cpu_seconds": time.process_time() - c0})
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}", val_miou=f"{val['miou']:.3f}")
            atomic_torch_save({"format": PARTIAL_FORMAT, "key": config.key(), "epoch": epoch + 1,
                               "history": history, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict()}, partial)

    meta = {"preset": config.preset, "key": config.key(), "train_config": asdict(config),
            "num_classes": train_ds.num_classes, "class_names": list(getattr(train_ds, "class_names", [])),
            "history": history, "val_miou": history[-1]["val_miou"] if history else None,
            "train_seconds": sum(h["seconds"] for h in history),
            "train_cpu_seconds": sum(h.get("cpu_seconds", 0.0) for h in history)}
    save_checkpoint(model, model_path(config), meta)
    partial.unlink(missing_ok=True)
    model.checkpoint_meta = meta
    return model.eval()
