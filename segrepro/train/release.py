"""Rebuilding the released embedded models: ``segrepro train --release [--only NAME]``.

The recipes below are the released models' training configs; ``segrepro.models.release`` loads the
results. A rebuild trains every model from scratch in ``cache_dir("release-build")`` (per-epoch
resume, so a killed rebuild continues), evaluates it, writes its weights to ``segrepro/weights/``
and its record to the manifest (atomically, one model at a time).

Recipe [ours, design.md "Measured starting points"]: width 16, 96 px, AdamW 3e-3 one-cycle,
batch 16, 12 epochs of 2000 images for the clean models (8 left dlv3_r18 at 55 % and the street models near 57 %, still rising); AT fine-tunes from the released clean
model for 3 epochs of 2000 images (half clean, half adversarial batches, eps 0.03, alpha 0.01; 2 epochs
left SegPGD3-AT and CosPGD3-AT at +9.8 and +9.9 PGD-20 points over the clean model, below the +10 target);
the DS Sec. 4 classifiers at width 8 for 10 epochs of 2000 images (their validation accuracy
plateaus; the manifest holds the curve).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from ..devices import resolve_device
from ..models import release
from ..models.checkpoint import atomic_torch_save, safe_load
from ..paths import atomic_write_bytes, cache_dir
from .adversarial import at_config
from .classifier import ClassifierConfig, accuracy, train_classifier
from .core import CACHE_VERSION, TrainConfig, train_model

#: Clean training recipe of the released models (TrainConfig fields besides model and preset).
CLEAN_RECIPE: dict[str, Any] = {"size": 96, "width": 16, "epochs": 12, "train_length": 2000, "val_length": 300}
#: AT fine-tuning recipe (overrides of the clean config; ``at_config`` adds method, steps, init_from).
AT_RECIPE: dict[str, Any] = {"epochs": 3, "train_length": 2000}
#: Classifier recipe (ClassifierConfig fields besides model).
CLASSIFIER_RECIPE: dict[str, Any] = {"preset": "shapes", "size": 96, "width": 8, "epochs": 10,
                                     "train_length": 2000, "val_length": 512}

CLEAN_MODELS = ("fcn8s_vgg16", "psp_r18", "dlv3_r18")
PRESETS = ("shapes", "street")
#: (architecture, training attack, steps) of the released AT models, all on ``shapes``.
AT_MODELS = (("psp_r18", "pgd", 3), ("psp_r18", "segpgd", 3), ("psp_r18", "cospgd", 3),
             ("psp_r18", "rp_pgd", 3), ("dlv3_r18", "pgd", 3), ("fcn8s_vgg16", "pgd", 3),
             ("psp_r18", "segpgd", 7))
CLASSIFIERS = ("vgg16_cls", "r18_cls")
#: Images of the first validation images on which the manifest's mIoU / accuracy are measured.
EVAL_IMAGES = 512
#: White-box PGD-20 (eps 0.03, alpha 0.01) robustness of AT models and their clean models, on this many images.
ROBUST_IMAGES = 256


def clean_config(model: str, preset: str) -> TrainConfig:
    """The released clean model's training config."""
    return TrainConfig(model=model, preset=preset, **CLEAN_RECIPE)


def configs() -> dict[str, TrainConfig | ClassifierConfig]:
    """Every released model's training config by release name, in training order (clean models first)."""
    from .adversarial import at_name

    out: dict[str, TrainConfig | ClassifierConfig] = {}
    for preset in PRESETS:
        for model in CLEAN_MODELS:
            out[f"{model}/{preset}"] = clean_config(model, preset)
    for arch, method, steps in AT_MODELS:
        cfg = at_config(clean_config(arch, "shapes"), method, steps, **AT_RECIPE)
        out[f"{arch}@{at_name(cfg)}/shapes"] = cfg
    for model in CLASSIFIERS:
        out[f"{model}/{CLASSIFIER_RECIPE['preset']}"] = ClassifierConfig(model=model, **CLASSIFIER_RECIPE)
    return out


def code_versions() -> dict[str, Any]:
    """The versions salted into cache keys: a change to either makes the releases stale."""
    from ..data.synthetic import VERSION as data_version

    return {"cache_version": CACHE_VERSION, "data_version": data_version}


def hardware() -> str:
    """One line naming where the training ran."""
    if torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(0)}"
    return f"CPU {platform.machine()} ({os.cpu_count()} cores, torch {torch.get_num_threads()} threads)"


def commit() -> str:
    """The git commit of the working tree (``unknown`` outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def evaluation(config: TrainConfig | ClassifierConfig, model, device) -> dict[str, float]:
    """Clean mIoU (or accuracy) on the preset's first :data:`EVAL_IMAGES` validation images."""
    if isinstance(config, ClassifierConfig):
        from ..data.synthetic import SyntheticClassification

        x, y = SyntheticClassification(config.preset, "val", size=config.size, length=EVAL_IMAGES).tensors()
        return {"val_accuracy_512": accuracy(model, x, y)}
    from ..data import get_dataset
    from ..metrics import evaluate

    data = get_dataset(config.preset, "val", size=config.size, length=EVAL_IMAGES, seed=config.data_seed)
    return {"clean_miou_512": evaluate(model, data, batch_size=64, device=device)["miou"]}


def robust_miou(config: TrainConfig, model, device) -> float:
    """White-box PGD-20 mIoU (eps 0.03, alpha 0.01, seed 0) on the first :data:`ROBUST_IMAGES` val images."""
    from ..attacks import attack
    from ..data import get_dataset
    from ..metrics import evaluate

    images, labels = get_dataset(config.preset, "val", size=config.size, length=ROBUST_IMAGES,
                                 seed=config.data_seed).tensors()
    advs = [attack(model, images[i:i + 32].to(device), labels[i:i + 32].to(device), "pgd", eps=0.03,
                   alpha=0.01, steps=20, seed=0).cpu() for i in range(0, len(images), 32)]
    return evaluate(model, (torch.cat(advs), labels), batch_size=64, device=device)["miou"]


def _store_half(src: Path, dst: Path) -> None:
    """Copy a checkpoint with its floating tensors in float16 (halves the shipped size)."""
    payload = safe_load(src)
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    atomic_torch_save(payload, dst)


def write_manifest(models: dict[str, dict], folder: Path) -> None:
    """Write the manifest atomically (sorted, stable JSON)."""
    body = {"about": "Released embedded models of segrepro; rebuild with `segrepro train --release`.",
            "models": dict(sorted(models.items()))}
    atomic_write_bytes(release.manifest_path(folder), (json.dumps(body, indent=1, sort_keys=True) + "\n").encode())


def build_one(name: str, config, device, folder: Path, progress: bool = True) -> dict[str, Any]:
    """Train one released model from scratch, evaluate it, store it (float16 when lossless) and return its record."""
    t0 = time.perf_counter()
    if isinstance(config, ClassifierConfig):
        model = train_classifier(config, device=device, progress=progress)
    else:
        model = train_model(config, device=device, progress=progress)
    seconds = time.perf_counter() - t0
    meta = model.checkpoint_meta
    src = _cache_file(config)
    record: dict[str, Any] = {
        "name": name, "model": config.model, "preset": config.preset, "key": config.key(),
        "train_config": dataclasses.asdict(config), **code_versions(), "train_seconds": round(seconds, 1),
        "hardware": hardware(), "commit": commit(), "date": dt.date.today().isoformat(),
        "history": meta.get("history", []), "torch": torch.__version__}
    full = evaluation(config, model, device)
    dst = folder / f"{name.replace('/', '-').replace('@', '_')}.pt"
    _store_half(src, dst)
    half = evaluation(config, release_load_file(dst, device), device)
    metric = next(iter(full))
    record["float16_change"] = abs(half[metric] - full[metric])
    if record["float16_change"] > 0.001:  # more than 0.1 point: ship float32
        atomic_torch_save(safe_load(src), dst)
        half = full
    record.update({metric: half[metric], "dtype": "float16" if half is not full else "float32",
                   "file": dst.name, "sha256": release.sha256(dst), "bytes": dst.stat().st_size})
    if isinstance(config, TrainConfig) and config.at_method:
        record["pgd20_miou_256"] = robust_miou(config, release_load_file(dst, device), device)
    return record


def release_load_file(path: Path, device):
    """Load a checkpoint file as float32 in eval mode (no manifest check: used while building)."""
    from ..models.checkpoint import load_checkpoint

    return load_checkpoint(path, map_location="cpu").float().to(device).eval()


def _cache_file(config) -> Path:
    from .cache import model_path
    from .classifier import classifier_path

    return classifier_path(config) if isinstance(config, ClassifierConfig) else model_path(config)


def clean_robust(records: dict[str, dict], device, folder: Path) -> None:
    """Add white-box PGD-20 mIoU to every clean model that an AT model was fine-tuned from."""
    for name, record in records.items():
        cfg = record["train_config"]
        if cfg.get("at_method") or "pgd20_miou_256" in record or record["model"].endswith("_cls"):
            continue
        if not any(r["train_config"].get("init_from") == record["key"] for r in records.values()):
            continue
        config = TrainConfig(**cfg)
        record["pgd20_miou_256"] = robust_miou(config, release.load(name, device=device, folder=folder), device)


def rebuild(only: list[str] | None = None, device=None, folder: Path | None = None, progress: bool = True) -> list[dict]:
    """Retrain the released models (all, or ``only`` these names) and rewrite the manifest.

    Resumable: models already rebuilt into the manifest with the current config key and the
    ``rebuild`` id of this run's marker file are skipped; an interrupted training resumes from its
    last finished epoch (``segrepro.train`` per-epoch checkpoints in ``cache_dir("release-build")``).

    Returns:
        One summary row per model (name, clean mIoU or accuracy, PGD-20 mIoU, seconds).
    """
    device = resolve_device(device)
    folder = Path(folder or release.WEIGHTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = configs()
    names = list(wanted) if not only else only
    unknown = [n for n in names if n not in wanted]
    if unknown:
        raise ValueError(f"unknown release name(s) {unknown}; valid: {', '.join(wanted)}")
    # AT models start from their clean release: build those first when they are asked for together
    records = dict(release.read_manifest(folder))
    marker = cache_dir("release-build") / "rebuild.json"
    state = json.loads(marker.read_text()) if marker.is_file() else {}
    if sorted(state.get("names", [])) != sorted(names):
        state = {"names": names, "done": []}
    previous = os.environ.get("SEGREPRO_CACHE")
    os.environ["SEGREPRO_CACHE"] = str(cache_dir("release-build"))  # a private cache: nothing stale is reused
    try:
        for name in names:
            if name in state["done"] and records.get(name, {}).get("key") == wanted[name].key():
                continue
            _link_clean_release(wanted[name], folder)
            records[name] = build_one(name, wanted[name], device, folder, progress)
            write_manifest(records, folder)
            state["done"].append(name)
            atomic_write_bytes(marker, json.dumps(state).encode())
        clean_robust(records, device, folder)
        write_manifest(records, folder)
    finally:
        if previous is None:
            os.environ.pop("SEGREPRO_CACHE", None)
        else:
            os.environ["SEGREPRO_CACHE"] = previous
    return [summary(records[n]) for n in names]


def _link_clean_release(config, folder: Path) -> None:
    """An AT config fine-tunes from its clean model: put the released clean weights where ``init_from`` looks."""
    if not isinstance(config, TrainConfig) or not config.init_from:
        return
    target = cache_dir("models") / f"{config.model}-{config.preset}-{config.init_from}.pt"
    if target.is_file():
        return
    name = release.find(config.init_from, folder)
    if name is None:
        raise ValueError(f"{config.model}: its clean model (key {config.init_from}) is not released yet; "
                         "rebuild the clean model first")
    payload = safe_load(release.verified_path(name, folder))
    payload["state_dict"] = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    atomic_torch_save(payload, target)


def summary(record: dict) -> dict[str, Any]:
    """The printed row of one released model."""
    return {"name": record["name"], "clean": record.get("clean_miou_512", record.get("val_accuracy_512")),
            "pgd20": record.get("pgd20_miou_256"), "seconds": record["train_seconds"], "MB": record["bytes"] / 1e6}
