"""Figures of segmentation maps: clean and adversarial images, perturbations, labels and predictions.

Every map is coloured with its dataset's palette (:func:`_colour`) and every figure carries a class
legend (:func:`class_legend`), so a reader can tell which class a colour is. Re-exported by
:mod:`segrepro.report.plots`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from segrepro.report.figstyle import PAGE_WIDTH_IN, house, legend_outside
from segrepro.report.tables import paper_name


def _colour(labels: np.ndarray, preset: str | None) -> np.ndarray:
    if preset in ("voc", "cityscapes"):
        from segrepro.data.cityscapes import CITYSCAPES_PALETTE
        from segrepro.data.voc import voc_palette

        table = np.zeros((256, 3), np.uint8)
        colours_ = voc_palette()[:21] if preset == "voc" else CITYSCAPES_PALETTE
        table[: len(colours_)] = colours_
        table[255] = 255 if preset == "voc" else 0  # VOC draws its ignore boundary white
        return table[np.asarray(labels, dtype=np.int64).clip(0, 255)]
    if preset is not None:
        from segrepro.data.synthetic import colourise

        return colourise(labels, preset)
    cmap = plt.get_cmap("tab20")
    rgb = (np.asarray(cmap(labels % 20))[..., :3] * 255).astype(np.uint8)
    rgb[labels == 255] = 128
    return rgb


def class_names(preset: str | None) -> Sequence[str] | None:
    """The class names of a dataset preset (``None`` when unknown)."""
    if preset == "voc":
        from segrepro.data.voc import VOC_CLASSES

        return VOC_CLASSES
    if preset == "cityscapes":
        from segrepro.data.cityscapes import CITYSCAPES_CLASSES

        return CITYSCAPES_CLASSES
    if preset is not None:
        from segrepro.data.synthetic import PRESETS

        return PRESETS[preset].class_names if preset in PRESETS else None
    return None


def class_legend(fig, label_maps: Sequence[np.ndarray], preset: str | None, names: Sequence[str] | None = None):
    """A legend below ``fig``: one colour patch per class that occurs in ``label_maps`` (plus ignore)."""
    names = list(names or class_names(preset) or [])
    ids = np.unique(np.concatenate([np.asarray(m).ravel() for m in label_maps]))
    handles, labels = [], []
    for i in ids:
        rgb = _colour(np.array([[int(i)]]), preset)[0, 0] / 255.0
        handles.append(Patch(color=rgb, ec="0.5"))
        labels.append("ignore" if i == 255 else names[i] if i < len(names) else f"class {i}")
    return legend_outside(fig, handles, labels, ncol=min(5, len(handles)), title="classes")


def _wrap_title(text: str) -> str:
    return text.replace(" on ", "\non ").replace(" (", "\n(")


def adversarial_grid(clean, adv, labels, predictions: Mapping[str, "np.ndarray"] | None = None, *,
                     preset: str | None = None, n: int = 4, amplify: float | None = None,
                     names: Sequence[str] | None = None):
    """Rows of images: clean, adversarial, perturbation (amplified), ground truth, one column per prediction.

    Args:
        clean, adv: ``(N,3,H,W)`` tensors or arrays in [0,1].
        labels: ``(N,H,W)`` class ids (255 = ignore).
        predictions: Column title -> ``(N,H,W)`` predicted ids (e.g. ``{"psp_r18 on adv": ...}``).
        preset: Dataset preset for its palette and class names (default: a generic colour map).
        n: Images (rows) to show.
        amplify: Perturbation scale for display (default: to fill [0,1] from ``max |adv - clean|``).
        names: Class names for the legend (default: the preset's).

    Returns:
        The Figure, with a class legend below the images.
    """
    to_np = lambda t: t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)  # noqa: E731
    clean, adv, labels = to_np(clean)[:n], to_np(adv)[:n], to_np(labels)[:n].astype(np.int64)
    preds = {k: to_np(v)[:n].astype(np.int64) for k, v in (predictions or {}).items()}
    delta = adv - clean
    amp = amplify or 0.5 / max(float(np.abs(delta).max()), 1e-8)
    cols = ["clean", "adversarial", f"perturbation x{amp:.0f}", "ground truth", *preds]
    rows = clean.shape[0]
    side = PAGE_WIDTH_IN / len(cols)
    with house():
        fig, axes = plt.subplots(rows, len(cols), figsize=(PAGE_WIDTH_IN, side * rows + 1.6), squeeze=False,
                                 layout="constrained")
        for i in range(rows):
            panels = [clean[i].transpose(1, 2, 0), adv[i].transpose(1, 2, 0),
                      np.clip(0.5 + amp * delta[i], 0, 1).transpose(1, 2, 0), _colour(labels[i], preset),
                      *[_colour(p[i], preset) for p in preds.values()]]
            for j, img in enumerate(panels):
                axes[i, j].imshow(np.clip(img, 0, 1) if img.dtype != np.uint8 else img)
                axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
                axes[i, j].grid(False)
                axes[i, j].spines[:].set_visible(False)
                if i == 0:
                    axes[i, j].set_title(_wrap_title(cols[j]))
        class_legend(fig, [labels, *preds.values()], preset, names)
    return fig


def examples_figure(examples: Mapping, n: int = 2):
    """DS Fig 6 style: per image, a row of the clean image, its ground truth and every target's prediction
    on it, then one row per method with the adversarial image, the perturbation and every target's
    prediction on the adversarial image; a class legend below.

    Args:
        examples: ``{"clean", "labels", "adv": {method: images}, "pred": {(method or "clean", target): labels},
            "preset", "source"}`` (e.g. ``segrepro.studies.dynamic_scaling.report.visual_examples``).
        n: Images.
    """
    to_np = lambda t: t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)  # noqa: E731
    methods = list(examples["adv"])
    n = min(n, examples["clean"].shape[0])
    targets = list(dict.fromkeys(t for (_, t) in examples["pred"]))
    preset, source = examples["preset"], examples["source"]
    clean, labels = to_np(examples["clean"]), to_np(examples["labels"]).astype(np.int64)
    adv = {m: to_np(examples["adv"][m]) for m in methods}
    amp = 0.5 / max(max(float(np.abs(adv[m][:n] - clean[:n]).max()) for m in methods), 1e-8)
    ncols, nrows = 2 + len(targets), n * (1 + len(methods))
    side = PAGE_WIDTH_IN / ncols
    titles = ["image", f"ground truth /\nperturbation x{amp:.0f}",
              *[f"{t}\n(source, white-box)" if t == source else f"{t}\n(transfer)" for t in targets]]
    maps = [labels[:n]]
    with house():
        fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, side * nrows + 1.8), squeeze=False,
                                 layout="constrained")
        r = 0
        for i in range(n):
            for m in ["clean", *methods]:
                if m == "clean":
                    row = [clean[i].transpose(1, 2, 0), _colour(labels[i], preset)]
                else:
                    row = [adv[m][i].transpose(1, 2, 0), np.clip(0.5 + amp * (adv[m][i] - clean[i]), 0, 1).transpose(1, 2, 0)]
                preds = [to_np(examples["pred"][(m, t)][i]).astype(np.int64) for t in targets]
                maps += [p[None] for p in preds]
                for j, img in enumerate([*row, *[_colour(p, preset) for p in preds]]):
                    ax = axes[r, j]
                    ax.imshow(np.clip(img, 0, 1) if img.dtype != np.uint8 else img)
                    ax.set_xticks([]), ax.set_yticks([])
                    ax.grid(False)
                    ax.spines[:].set_visible(False)
                    if r == 0:
                        ax.set_title(titles[j])
                axes[r, 0].set_ylabel(f"#{i + 1} " + ("clean" if m == "clean" else paper_name(m)))
                r += 1
        class_legend(fig, maps, preset)
    return fig
