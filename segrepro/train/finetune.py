"""Adversarial fine-tuning of a loaded checkpoint (paper scale): ``segrepro train --at SPEC ...``.

The papers' AT tables (DS Table 3, RP-PGD Tables 4-6) need adversarially trained VOC/Cityscapes
models that are not published with them. This fine-tunes any model spec (``zoo:``, ``tv:``,
``mmseg:``; ``segrepro.models.sources``) with the AT recipe of ``segrepro.train.adversarial`` (half
clean, half adversarial batches of the training attack, ``T`` steps, eps 0.03, alpha 0.01; RP-PGD
paper, after DDC-AT) on the dataset's train split, and writes a checkpoint **in the input's own
format**, so the result is named in ``profile.checkpoints`` like the clean model:

    segrepro train --at "tv:deeplabv3_resnet50=dlv3.pth" --attack PGD --steps 3 \\
        --set data_root=/data/VOC --out dlv3_pgd3at.pth
    # then: --set 'checkpoints={"dlv3_r50@PGD3-AT": "tv:deeplabv3_resnet50=dlv3_pgd3at.pth", ...}'

Optimiser [ours]: SGD with momentum 0.9, lr 1e-3 (a fine-tune of a converged model), weight decay
1e-4, polynomial decay, batch 8, random flips; the papers train from ImageNet backbones with the
mmseg schedules, which a fine-tune cannot reproduce exactly (say so when reporting).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from tqdm import tqdm  # not tqdm.auto: it warns in kernels without ipywidgets

from ..devices import resolve_device
from ..models.checkpoint import save_checkpoint
from ..models.sources import ModelSpec, load_spec, parse_spec
from ..validation import IGNORE_INDEX
from .adversarial import AT_METHODS, _method_name, adversarial_batch


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """The AT fine-tuning recipe (see the module docstring)."""

    attack: str = "pgd"
    steps: int = 3
    eps: float = 0.03
    alpha: float = 0.01
    epochs: int = 1
    batch_size: int = 8
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    max_images: int | None = None
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "attack", _method_name(self.attack))
        if self.steps < 1 or self.epochs < 1 or self.batch_size < 2:
            raise ValueError("steps and epochs must be >= 1 and batch_size >= 2 (half clean, half adversarial)")

    @property
    def name(self) -> str:
        """The papers' name of the result, e.g. ``PGD3-AT``."""
        return f"{AT_METHODS[self.attack]}{self.steps}-AT"


def save_like(model, spec: ModelSpec, out: str | Path) -> str:
    """Write ``model``'s weights at ``out`` in the format of ``spec`` and return the spec naming them."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if spec.kind == "zoo":
        save_checkpoint(model, out, {"finetuned_from": spec.path})
        return f"zoo:{out}"
    if spec.kind == "tv":
        torch.save(model.net.state_dict(), out)
        return f"tv:{spec.arch}={out}"
    torch.save({"state_dict": model.segmentor.state_dict(), "meta": {"finetuned_from": spec.path}}, out)
    return f"mmseg:{spec.config}={out}"


def finetune(spec: str, dataset, num_classes: int, out: str | Path, config: FinetuneConfig = FinetuneConfig(),
             device=None, progress: bool = True) -> str:
    """Adversarially fine-tune the model of ``spec`` on ``dataset`` and save it next to ``out``.

    Args:
        spec: a model spec (``zoo:``/``tv:``/``mmseg:``).
        dataset: the training split (items ``(image (3,H,W) in [0,1], label (H,W))``, equal sizes).
        num_classes: the dataset's classes.
        out: where the fine-tuned weights go.
        config: the recipe.

    Returns:
        The spec of the fine-tuned model (same kind and architecture as ``spec``).
    """
    device = resolve_device(device)
    parsed = parse_spec(spec)
    model = load_spec(parsed, num_classes, device)
    n = len(dataset) if config.max_images is None else min(len(dataset), config.max_images)
    if n < config.batch_size:
        raise ValueError(f"the training split has {n} images, fewer than batch_size={config.batch_size}")
    steps = config.epochs * (n // config.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=steps, power=0.9)
    at = SimpleNamespace(at_method=config.attack, at_steps=config.steps, at_eps=config.eps, at_alpha=config.alpha,
                         seed=config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    t0 = time.perf_counter()
    with tqdm(total=steps, disable=not progress, desc=f"{config.name} fine-tune") as bar:
        for _ in range(config.epochs):
            order = torch.randperm(n, generator=gen).tolist()
            for i in range(n // config.batch_size):
                items = [dataset[j] for j in order[i * config.batch_size:(i + 1) * config.batch_size]]
                x = torch.stack([a for a, _ in items]).to(device)
                y = torch.stack([torch.as_tensor(b) for _, b in items]).long().to(device)
                flip = (torch.rand(len(x), generator=gen) < 0.5).to(device)
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
                y = torch.where(flip[:, None, None], y.flip(-1), y)
                x, y = adversarial_batch(model, x, y, at, gen)
                model.train()
                loss = F.cross_entropy(model(x), y, ignore_index=IGNORE_INDEX)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    result = save_like(model, parsed, out)
    if progress:
        print(f"{config.name} fine-tune of {spec}: {steps} steps in {time.perf_counter() - t0:.0f} s -> {result}")
    return result
