"""The released embedded models: checkpoints shipped in ``segrepro/weights/`` with a manifest.

The embedded profile does not train: like the papers, which start from published checkpoints, it
loads models that the project's own code trained once (``segrepro train --release``). Each file is
listed in ``segrepro/weights/manifest.json`` with the training config and its cache key, the code
and data versions, the sha256 of the file, clean mIoU on the preset's first 512 validation images,
training time, hardware and commit. Loading verifies the sha256 and uses ``weights_only`` loading,
so a tampered or truncated file is a clear error naming it, never a silent retrain.

Names read ``"<model>/<preset>"``: ``"psp_r18/shapes"``, ``"psp_r18@PGD3-AT/shapes"``,
``"vgg16_cls/shapes"`` (the DS Sec. 4 classifiers).

Example:
    >>> from segrepro.models import release
    >>> "psp_r18/shapes" in release.available()          # doctest: +SKIP
    True
    >>> model = release.load("psp_r18@PGD3-AT/shapes")    # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint

#: Folder of the released checkpoints (package data).
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST_NAME = "manifest.json"


def manifest_path(folder: Path | None = None) -> Path:
    """Path of the manifest in ``folder`` (default: the package's weights folder)."""
    return Path(folder or WEIGHTS_DIR) / MANIFEST_NAME


def read_manifest(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """The manifest's entries by release name (empty when nothing is released yet).

    Raises:
        ValueError: the manifest exists but is not valid JSON of the expected form.
    """
    path = manifest_path(folder)
    if not path.is_file():
        return {}
    return _parse_manifest(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _parse_manifest(path: Path, _mtime: int) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
        models = data["models"]
        if not isinstance(models, dict):
            raise TypeError("'models' is not an object")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"release manifest {path} is unreadable ({err}); restore it from git "
                         "or rebuild the releases with `segrepro train --release`") from err
    return models


def available(folder: Path | None = None) -> list[str]:
    """Names of the released models, e.g. ``"psp_r18@PGD3-AT/shapes"``."""
    return sorted(read_manifest(folder))


def entry(name: str, folder: Path | None = None) -> dict[str, Any]:
    """The manifest entry of a released model.

    Raises:
        ValueError: unknown name (the message lists the released ones).
    """
    models = read_manifest(folder)
    if name not in models:
        raise ValueError(f"no released model {name!r}; released: {', '.join(sorted(models)) or 'none'}")
    return models[name]


def find(key: str, folder: Path | None = None) -> str | None:
    """The release name whose training config has cache key ``key``, or None."""
    for name, record in read_manifest(folder).items():
        if record.get("key") == key:
            return name
    return None


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_path(name: str, folder: Path | None = None) -> Path:
    """The file of a released model after checking it exists and matches its recorded sha256.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: unknown name, or the file's sha256 differs from the manifest's (tampered or truncated).
    """
    record = entry(name, folder)
    path = Path(folder or WEIGHTS_DIR) / record["file"]
    if not path.is_file():
        raise FileNotFoundError(f"released model {name!r}: file {path} is missing; restore it from git "
                                "or rebuild it with `segrepro train --release --only " + name + "`")
    actual = sha256(path)
    if actual != record["sha256"]:
        raise ValueError(f"released model {name!r}: {path} has sha256 {actual[:12]}..., the manifest records "
                         f"{record['sha256'][:12]}... (the file was modified or truncated); restore it from git "
                         f"or rebuild it with `segrepro train --release --only {name}`")
    return path


def load(name: str, device: torch.device | str = "cpu", folder: Path | None = None) -> nn.Module:
    """Load a released model in eval mode, float32, on ``device``, after verifying its sha256.

    Returns:
        The model; ``model.checkpoint_meta`` holds the checkpoint's meta plus ``release`` (the name).
    """
    path = verified_path(name, folder)
    model = load_checkpoint(path, map_location="cpu").float().to(device)
    model.checkpoint_meta = {**model.checkpoint_meta, "release": name}
    return model.eval()
