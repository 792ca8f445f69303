"""Model specs: where a model of a profile comes from when it is loaded, not trained.

A spec (``profile.checkpoints`` value) names a checkpoint file of ours, a torchvision model or an
MMSegmentation config and checkpoint (:func:`parse_spec`); :func:`load_spec` turns it into a model
that follows the contract of :class:`~segrepro.models.wrap.SegModel`, and :func:`check_contract`
checks it on one image before any attack runs. Real datasets (:data:`REAL_DATASETS`) take their
models from specs only.

Example:
    >>> parse_spec("tv:deeplabv3_resnet50=/ckpt/dlv3.pth")
    ModelSpec(kind='tv', path='/ckpt/dlv3.pth', arch='deeplabv3_resnet50', config=None)
"""
from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path

import torch

#: Datasets read from disk (``profile.data_root``); their models come from ``profile.checkpoints``.
REAL_DATASETS = ("voc", "cityscapes")
#: Prefixes of a model spec (see :func:`parse_spec`).
SPEC_KINDS = ("zoo", "tv", "mmseg")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed ``profile.checkpoints`` value (see :func:`parse_spec`).

    Attributes:
        kind: ``"zoo"`` (segrepro checkpoint), ``"tv"`` (torchvision) or ``"mmseg"``.
        path: Checkpoint / weights file (``None``: a randomly initialised torchvision model).
        arch: torchvision architecture (``kind="tv"``).
        config: mmseg config file or bundled config name (``kind="mmseg"``).
    """

    kind: str
    path: str | None = None
    arch: str | None = None
    config: str | None = None


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec of ``profile.checkpoints``.

    Syntax (``=`` separates an architecture or config from its weights file):

    - ``"zoo:/ckpt/psp_r18.pt"`` or a bare ``"/ckpt/psp_r18.pt"``: a ``segrepro.models.save_checkpoint`` file.
    - ``"tv:deeplabv3_resnet50=/ckpt/dlv3.pth"``: a torchvision model (``segrepro.models.torchvision``)
      with a local state dict; ``"tv:deeplabv3_resnet50"`` alone is randomly initialised (a warning).
    - ``"mmseg:/cfg/pspnet_r50.py=/ckpt/pspnet_r50.pth"``: an MMSegmentation config and checkpoint
      (``segrepro.models.mmseg``); a config that is not an existing file is looked up among the
      configs bundled with mmseg (``"mmseg:pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py=..."``).
      The split is at the first ``.py=``, so paths may contain ``=``.

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: Empty spec, unknown prefix (lists the valid ones), a torchvision architecture that
            does not exist (lists them) or an mmseg spec without ``<config.py>=<checkpoint>``.
    """
    if not isinstance(spec, str):
        raise TypeError(f"a model spec must be a string, got {type(spec).__name__}: {spec!r}")
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if not sep or kind not in SPEC_KINDS:
        if re.match(r"^[A-Za-z]{2,}:", text) and not Path(text).exists():
            raise ValueError(f"unknown model spec {spec!r}; valid forms: 'zoo:<checkpoint>' (or a bare path), "
                             "'tv:<arch>[=<weights>]', 'mmseg:<config.py>=<checkpoint>'")
        kind, rest = "zoo", text
    if not rest:
        raise ValueError(f"model spec {spec!r} names no file or architecture")
    if kind == "zoo":
        return ModelSpec("zoo", path=rest)
    if kind == "tv":
        from segrepro.models.torchvision import TORCHVISION_MODELS

        arch, _, weights = rest.partition("=")
        if arch not in TORCHVISION_MODELS:
            raise ValueError(f"unknown torchvision model {arch!r} in spec {spec!r}; valid: {list(TORCHVISION_MODELS)}")
        return ModelSpec("tv", path=weights or None, arch=arch)
    config, sep, ckpt = rest.partition(".py=")
    if not sep or not ckpt:
        raise ValueError(f"mmseg spec {spec!r} must read 'mmseg:<config.py>=<checkpoint.pth>'")
    return ModelSpec("mmseg", path=ckpt, config=config + ".py")


def load_spec(spec: str | ModelSpec, num_classes: int, device: str | torch.device = "cpu"):
    """Load the model a spec describes, on ``device``, in eval mode.

    Args:
        spec: A spec string (:func:`parse_spec`) or a :class:`ModelSpec`.
        num_classes: Classes of the dataset (21 VOC, 19 Cityscapes): torchvision models are built
            with it; zoo and mmseg checkpoints must have it.
        device: Where the model goes.

    Returns:
        A ``SegModel`` (``model.config["spec"]`` records the spec).

    Raises:
        FileNotFoundError: Missing checkpoint, weights or config. ValueError: Unreadable file, weights
        that do not fit the architecture or config, or a class count other than ``num_classes``.
        ImportError: An mmseg spec without the ``mmseg`` extra.
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.kind == "zoo":
        from segrepro.models import load_checkpoint

        model = load_checkpoint(parsed.path, map_location=device)
    elif parsed.kind == "tv":
        from segrepro.models.torchvision import build_torchvision

        if parsed.path is None:
            warnings.warn(f"model spec {spec!r} gives no weights: {parsed.arch} is randomly initialised", stacklevel=2)
        model = build_torchvision(parsed.arch, num_classes=num_classes, weights=parsed.path)
    else:
        from segrepro.models.mmseg import bundled_config, init_model

        config = parsed.config if Path(parsed.config).is_file() else bundled_config(parsed.config)
        model = init_model(config, parsed.path, device=device)
    if model.num_classes != num_classes:
        raise ValueError(f"model spec {spec!r} has {model.num_classes} classes but the dataset has {num_classes}")
    model.config["spec"] = spec if isinstance(spec, str) else dataclasses.asdict(parsed)
    return model.to(device).eval()


def check_contract(model, images: torch.Tensor, num_classes: int, name: str = "model") -> None:
    """Run ``model`` on ``images`` once and check the model contract (logits ``(N,C,H,W)`` at input size).

    Raises:
        ValueError: Logits of another size or class count (the message names the model).
    """
    from segrepro.validation import check_logits

    with torch.no_grad():
        logits = model(images)
    try:
        check_logits(logits, images, num_classes)
    except ValueError as err:
        raise ValueError(f"model {name!r} breaks the model contract: {err}") from err


def num_classes(preset: str) -> int:
    """Classes of a dataset or synthetic preset (21 for ``voc``, 19 for ``cityscapes``)."""
    if preset == "voc":
        from segrepro.data.voc import VOCSegmentationDataset
        return VOCSegmentationDataset.num_classes
    if preset == "cityscapes":
        from segrepro.data.cityscapes import CityscapesDataset
        return CityscapesDataset.num_classes
    from segrepro.data import available
    from segrepro.data.synthetic import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown dataset {preset!r}; valid datasets: {available()}")
    return len(PRESETS[preset].class_names)
