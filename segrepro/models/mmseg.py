"""Any MMSegmentation config + checkpoint behind the segrepro contract.

Needs the ``mmseg`` extra (``pip install -e ".[mmseg]"``: the maintained OpenMMLab fork
``onedl-mmsegmentation==1.4.2`` with ``onedl-mmcv==2.3.6`` and ``onedl-mmengine==0.10.12``; the
official ``mmsegmentation`` needs an ``mmcv<2.2`` that has no wheel for current PyTorch). It is
imported only when :func:`init_model` is called.

Tested torch range of the extra: torch 2.14 (2.14.1, the release the Makefile installs, ran
``tests/models/test_mmseg_adapter.py``). mmcv's compiled ops are built against particular torch
releases, so when mmseg is first used under another torch the adapter warns, naming the installed
and the tested versions, and a failing mmseg/mmcv import says the same instead of a bare
undefined-symbol error.

What the wrapper does, and why:

* **Normalisation inside.** mmseg normalises in its data preprocessor with mean/std on the 0..255
  scale, after optionally swapping BGR (how mmcv loads images) to RGB. The wrapper takes the images in
  [0,1] RGB, so it uses ``mean/255`` and ``std/255`` and feeds BGR when the config never swaps.
* **Whole-image inference** (``segmentor._forward``: backbone, neck, decode head), logits resized
  to the input size as mmseg's ``predict`` does (bilinear, the head's ``align_corners``). Configs
  whose ``test_cfg`` uses sliding windows are run whole; sizes must suit the backbone (e.g. a
  multiple of 32 for transformers), as with mmseg's own whole mode.
* **Features** for RP-PGD: the input of the decode head's classifier ``conv_seg``, captured by a
  forward pre-hook during the same pass.
* **Strict loading.** mmengine's ``load_checkpoint`` silently skips mismatching keys; here any
  mismatch between config and checkpoint (keys, shapes, class count in ``meta``) is an error. Keys of
  the ``auxiliary_head`` (training-only) may be absent.
* **SyncBN -> BN**: inference runs in one process, where SyncBN is equivalent to BN in eval mode.
"""
from __future__ import annotations

import copy
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .wrap import SegModel

AUX_PREFIX = "auxiliary_head."
# (lowest, highest) torch minor release the mmseg extra was tested with; keep in step with pyproject.toml
TESTED_TORCH = ((2, 14), (2, 14))
EXTRA = "onedl-mmsegmentation==1.4.2, onedl-mmcv==2.3.6, onedl-mmengine==0.10.12"


def _torch_minor(version: str) -> tuple[int, int]:
    major, minor = version.split("+")[0].split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def torch_untested(version: str | None = None) -> str | None:
    """A sentence naming the installed and the tested torch when ``version`` is outside the tested range."""
    version = version or torch.__version__
    lo, hi = TESTED_TORCH
    if lo <= _torch_minor(version) <= hi:
        return None
    tested = f"{lo[0]}.{lo[1]}" if lo == hi else f"{lo[0]}.{lo[1]} to {hi[0]}.{hi[1]}"
    return (f"torch {version} is installed, but the mmseg extra ({EXTRA}, whose mmcv ops are compiled "
            f"against particular torch releases) was tested with torch {tested}")


def _import_mmseg_init():
    """``mmseg.apis.init_model``, with the torch-range check where mmcv is actually used."""
    try:
        from mmseg.apis import init_model as mmseg_init_model
    except ImportError as err:
        if importlib.util.find_spec("mmseg") is None:
            raise ImportError("segrepro.models.mmseg needs the mmseg extra: "
                              f"pip install -e '.[mmseg]' ({EXTRA})") from err
        untested = torch_untested()  # installed but broken: most often mmcv built for another torch
        raise ImportError(f"mmseg is installed but does not import ({err})"
                          + (f"; {untested}: install a tested torch or rebuild mmcv" if untested else "")) from err
    untested = torch_untested()
    if untested:
        warnings.warn(f"{untested}; results may differ or mmcv ops may fail", stacklevel=3)
    return mmseg_init_model


def bundled_config(name: str) -> Path:
    """Path of a config shipped inside the installed mmseg package, e.g. ``"pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py"``.

    Raises:
        FileNotFoundError: ``name`` is a path of the user's (absolute, or an existing folder) that
            does not exist, or no bundled config has that name (then it lists the bundled folder).
    """
    import mmseg

    root = Path(mmseg.__file__).parent / ".mim" / "configs"
    path, folder = root / name, Path(name).parent
    if Path(name).is_absolute() or (folder != Path(".") and (folder.is_dir() or not (root / folder).is_dir())):
        # a path of the user's own: report the missing file, never their folder as "bundled configs"
        raise FileNotFoundError(f"mmseg config file {Path(name).absolute()} does not exist, and there is "
                                f"no bundled mmseg config {name!r} under {root}")
    if not path.is_file():
        near = sorted(p.name for p in (root / folder).glob("*.py"))[:20] if (root / folder).is_dir() else []
        raise FileNotFoundError(f"no bundled mmseg config {name!r} under {root}"
                                + (f"; that folder holds e.g. {near}" if near else ""))
    return path


def _map_dicts(obj: Any, fn) -> None:
    """Apply ``fn`` to every dict nested in a config (dicts inside dicts and lists)."""
    if isinstance(obj, dict):
        fn(obj)
        for value in obj.values():
            _map_dicts(value, fn)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _map_dicts(value, fn)


def _sync_bn_to_bn(d: dict) -> None:
    if d.get("type") in ("SyncBN", "MMSyncBN"):
        d["type"] = "BN"


def _heads(model_cfg: dict) -> list:
    out = []
    for key in ("decode_head", "auxiliary_head"):
        head = model_cfg.get(key)
        out += list(head) if isinstance(head, (list, tuple)) else ([head] if head else [])
    return out


def _load_config(config):
    from mmengine import Config

    if isinstance(config, Config):
        return copy.deepcopy(config)
    if isinstance(config, dict):
        return Config(copy.deepcopy(config))
    if isinstance(config, (str, Path)):
        if not Path(config).is_file():
            raise FileNotFoundError(f"mmseg config file {Path(config).absolute()} does not exist (for a config "
                                    "shipped with mmseg pass bundled_config(name))")
        return Config.fromfile(str(config))
    raise TypeError(f"config must be a path, a dict or an mmengine Config, got {type(config).__name__}")


def _read_checkpoint(path, weights_only: bool) -> tuple[dict, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist (segrepro never downloads weights)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as err:
        hint = " (if you trust the file, pass weights_only=False)" if weights_only else ""
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {err}{hint}") from err
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {str(path)!r} holds a {type(payload).__name__}, not a dict")
    state = payload.get("state_dict", payload)
    state = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    return state, payload.get("meta", {}) or {}


def _check_fit(own: dict, state: dict, where: str) -> None:
    missing = sorted(k for k in set(own) - set(state) if not k.startswith(AUX_PREFIX))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs config {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    problems = [f"missing keys {missing[:3]}" + (" ..." if len(missing) > 3 else "") if missing else "",
                f"unexpected keys {unexpected[:3]}" + (" ..." if len(unexpected) > 3 else "") if unexpected else "",
                f"shape mismatch {shapes[:2]}" if shapes else ""]
    if any(problems):
        raise ValueError(f"checkpoint does not fit the config ({where}): " + "; ".join(p for p in problems if p))


class MMSegModel(SegModel):
    """An mmseg segmentor (``self.segmentor``) behind the contract; see the module docstring."""

    def __init__(self, segmentor: nn.Module, num_classes: int, mean, std, feed_bgr: bool, config: dict):
        super().__init__(num_classes, mean=mean, std=std, config=config)
        self.segmentor = segmentor
        self.feed_bgr = feed_bgr
        head = segmentor.decode_head
        head = head[-1] if isinstance(head, nn.ModuleList) else head  # cascade segmentors: the last head
        if not isinstance(getattr(head, "conv_seg", None), nn.Module):
            raise TypeError(f"{type(head).__name__} has no conv_seg classifier, so its penultimate features "
                            "cannot be taken; supported heads end in BaseDecodeHead.cls_seg")
        self.align_corners = bool(getattr(head, "align_corners", False))
        self._captured: list[torch.Tensor] = []
        # a bound method, not a closure: copy.deepcopy / pickling then re-targets the hook to the copy
        head.conv_seg.register_forward_pre_hook(self._capture)

    def _capture(self, _module: nn.Module, args: tuple) -> None:
        self._captured.append(args[0])

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.feed_bgr:
            x = x.flip(1)
        self._captured.clear()
        logits = self.segmentor._forward(x)
        if not self._captured:
            raise RuntimeError("the decode head did not call conv_seg; cannot return features")
        feats = self._captured[-1]
        self._captured.clear()
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=self.align_corners)
        return logits, feats


def init_model(config, checkpoint: str | Path | None, device: str | torch.device = "cpu",
               num_classes: int | None = None, weights_only: bool = True) -> MMSegModel:
    """Build an mmseg segmentor from a config, load a checkpoint strictly and wrap it to the contract.

    Args:
        config: path of an mmseg ``.py`` config (``bundled_config(name)`` for the shipped ones), a config
            dict, or an ``mmengine.Config``; it is copied, never modified.
        checkpoint: path of a checkpoint dict ``{"state_dict": ..., "meta": {"dataset_meta": {"classes",
            "palette"}}}`` (mmseg's format; a bare state dict also works), or None for random init.
        device: where the model goes (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``).
        num_classes: override the heads' class count (e.g. a Cityscapes config used for VOC).
        weights_only: read the checkpoint with ``torch.load(weights_only=True)`` (safe); set False only
            for trusted files that pickle other objects.

    Returns:
        An :class:`MMSegModel` in eval mode on ``device``; ``model.dataset_meta`` holds the checkpoint's
        classes/palette when present.

    Raises:
        ImportError: the ``mmseg`` extra is not installed or does not import (the message names the
        installed and the tested torch when they differ). FileNotFoundError: missing config or
        checkpoint. ValueError: checkpoint and config do not fit (keys, shapes, class count).
        RuntimeError: CUDA requested where none exists.
    """
    from ..devices import resolve_device

    dev = resolve_device(device)
    mmseg_init_model = _import_mmseg_init()
    cfg = _load_config(config)
    if "model" not in cfg or "decode_head" not in cfg.model:
        raise ValueError("config has no model.decode_head; it is not an mmseg segmentor config")
    _map_dicts(cfg.model, _sync_bn_to_bn)
    if num_classes is not None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        for head in _heads(cfg.model):
            head["num_classes"] = num_classes
    cfg.model.backbone["init_cfg"] = None  # never fetch pretrained backbone weights
    segmentor = mmseg_init_model(cfg, None, device="cpu")
    head = segmentor.decode_head[-1] if isinstance(segmentor.decode_head, nn.ModuleList) else segmentor.decode_head
    n = int(head.num_classes)
    meta = {}
    if checkpoint is not None:
        state, meta = _read_checkpoint(checkpoint, weights_only)
        where = f"config {getattr(cfg, 'filename', None) or 'dict'} with num_classes={n}, checkpoint {checkpoint}"
        _check_fit(segmentor.state_dict(), state, where)
        classes = (meta.get("dataset_meta") or {}).get("classes", meta.get("CLASSES"))
        if classes is not None and len(classes) != n:
            raise ValueError(f"checkpoint lists {len(classes)} classes but the config's head has {n} ({where})")
        segmentor.load_state_dict(state, strict=False)  # only auxiliary-head keys may be absent (checked)
    segmentor.dataset_meta = meta.get("dataset_meta") or (
        {"classes": meta["CLASSES"], "palette": meta.get("PALETTE")} if "CLASSES" in meta else None)
    pre = cfg.model.get("data_preprocessor") or {}
    mean = [m / 255 for m in pre.get("mean", [123.675, 116.28, 103.53])]
    std = [s / 255 for s in pre.get("std", [58.395, 57.12, 57.375])]
    feed_bgr = not (pre.get("bgr_to_rgb", False) or pre.get("rgb_to_bgr", False))
    if feed_bgr:  # mean/std are in the model's (BGR) order; the wrapper normalises RGB input
        mean, std = mean[::-1], std[::-1]
    config_record = {"name": "mmseg", "source": "mmseg",
                     "config": str(config) if isinstance(config, (str, Path)) else None,
                     "checkpoint": str(checkpoint) if checkpoint is not None else None}
    model = MMSegModel(segmentor, n, mean, std, feed_bgr, config_record)
    model.dataset_meta = segmentor.dataset_meta
    return model.to(dev).eval()
