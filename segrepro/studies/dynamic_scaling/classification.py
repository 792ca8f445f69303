"""DS paper Sec. 4 (Figs 1-2): do BIM examples overfit the source classifier?

Gu et al. (arXiv 2111.11368, Sec. 4, Eq. 1-2) attack ImageNet classifiers (VGG16, ResNet50, ...) with
BIM and report the accuracy of *other* classifiers on the examples against the number of
iterations: transfer first improves, then degrades (overfitting), more so from ResNet sources.

Our scale **[ours]**: the classification variant of ``shapes``
(:class:`segrepro.data.synthetic.SyntheticClassification`, label = dominant object class) and two
small classifiers of :func:`segrepro.models.classifiers.build_classifier` (``vgg16_cls``, ``r18_cls``:
the zoo's VGG16-BN and ResNet-18 trunks, pooled), the released ones at ``embedded`` (trained to a
plateau of validation accuracy, ``segrepro/weights``; loaded by
:func:`segrepro.train.classifier.get_classifier`, trained and cached for other recipes). Each is
attacked with BIM and the examples are classified by both.

The attack runs through the segmentation engine (``segrepro.attacks.attack``) with a thin wrapper,
:class:`PixelwiseClassifier`: the class logits ``(N,C)`` are broadcast to every pixel ``(N,C,H,W)`` and
the label to ``(N,H,W)``. (A 1x1 map would be the literal reading, but the engine checks that logits
and labels have the input's spatial size.) The pixel-mean cross-entropy of identical pixels equals
the classification cross-entropy (Eq. 2), so the sign step is exactly BIM of Eq. 1.

One cell per (source, eps): BIM is deterministic, so there are no seeds; the study attacks
``profile.ds_cls_images`` images (256 at ``embedded``) and stores each image's correct/wrong flag per
(target, iteration) as counts (``segrepro.run.counts``, a classifier seen as a one-pixel
segmentation: ``valid`` = 1, ``correct`` = 1 when right), so the claims bootstrap over images.
Rows use ``grid="classification"``, ``preset="shapes"``, ``seed=0``, metric ``accuracy`` (iteration 0 =
clean images), and ``val_accuracy`` / ``train_seconds`` for the classifiers (``method="clean"``).
Cost at ``embedded`` (96 px, width 8): about 4 ms (VGG16) and 1.3 ms (ResNet-18) per image and
iteration on the 2-core CPU: 256 images x 50 iterations, about 70 s, plus the evaluations.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import torch
from torch import nn

from segrepro.data.synthetic import SyntheticClassification
from segrepro.metrics import image_counts, metrics_from_counts
from segrepro.run.counts import CountStore, concat
from segrepro.studies.dynamic_scaling.grids import LONG_SNAPSHOTS, NAME
from segrepro.train.classifier import accuracy, get_classifier

GRID = "classification"
CLASSIFIERS = ("vgg16_cls", "r18_cls")
#: The classifier overfitting claims compare the last iteration with this one (the paper, Sec. 1:
#: "the AEs ... will overfit the source models when a large number of attack iterations are applied,
#: e.g., more than 20 iterations").
REFERENCE = 20


@dataclass(frozen=True)
class ClsSettings:
    """Everything that determines the classification study's numbers (hashed into cell keys).

    Attributes:
        classifier: Training recipe of both classifiers (``segrepro.train.ClassifierConfig`` fields
            besides ``model``): the embedded profile names the released recipe, so nothing is trained.
        n_images: Evaluation images (the first of the classification variant's val split).
        eps, alpha, steps, snapshots: The BIM attack.
        batch_size: Images attacked at once.
    """

    classifier: tuple = ()
    n_images: int = 256
    eps: tuple[float, ...] = (0.03,)
    alpha: float = 0.01
    steps: int = 100
    snapshots: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100)
    batch_size: int = 64

    @classmethod
    def from_profile(cls, profile) -> "ClsSettings":
        """Scale the study from a profile: its classifier recipe, ``ds_cls_images``, the paper's eps and
        ``ds_cls_steps`` iterations with log-spaced snapshots (the reference iteration included)."""
        steps = int(profile.ds_cls_steps)
        recipe = {"size": profile.image_size, **dict(profile.classifier_train)}
        return cls(classifier=tuple(sorted(recipe.items())), n_images=int(profile.ds_cls_images),
                   eps=(profile.paper_eps,), alpha=profile.alpha, steps=steps, snapshots=snapshots(steps))

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


def reference_iteration(steps: int) -> int | None:
    """:data:`REFERENCE`, or half the run for runs of at most that many iterations (smoke scale)."""
    if steps > REFERENCE:
        return REFERENCE
    return steps // 2 or None


def snapshots(steps: int) -> tuple[int, ...]:
    """Log-spaced snapshots up to ``steps`` (with ``steps`` and the reference iteration)."""
    ref = reference_iteration(steps)
    return tuple(sorted({t for t in LONG_SNAPSHOTS if t <= steps} | {steps} | ({ref} if ref else set())))


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
    base = dict(study=NAME, preset=s.preset, grid=GRID, cell=cell, eval_scale="1", params="{}", seed=0)
    return {**base, **kw}


def image_flags(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Per-image counts of a classifier seen as a one-pixel segmentation (``correct``: 1 when right).

    Shape:
        images ``(N,3,H,W)``, labels ``(N,)`` -> ``segrepro.metrics.image_counts`` fields of ``N`` images.
    """
    with torch.no_grad():
        pred = classifier(images).argmax(1)
    n = int(classifier.num_classes)
    counts = image_counts(pred.view(-1, 1, 1).cpu(), labels.view(-1, 1, 1).cpu(), n)
    return {k: v.numpy() for k, v in counts.items()}


def counts_store(store) -> CountStore:
    """The study's counts folder, beside its table (where the grid runner puts the grids' counts)."""
    return CountStore(store.path.parent / "counts" / NAME)


def cells(s: ClsSettings) -> tuple[dict[str, str], dict[tuple[str, float], str]]:
    """The cell keys of the classifiers' rows (by name) and of the attack cells (by source and eps)."""
    return ({n: f"dscls-train-{s.train_key()}-{n}" for n in CLASSIFIERS},
            {(src, e): f"dscls-{s.key(src, e)}" for src in CLASSIFIERS for e in s.eps})


def current(df, profile, grid_cells: set[str] | None = None):
    """``df`` without the classification rows of other settings and, given ``grid_cells`` (the current
    grids' cell keys, clean cells included), without the DS grids' rows of other cells: rows a rerun
    with other overrides left behind, which ``load_results`` keeps."""
    from segrepro.studies.dynamic_scaling.grids import GRIDS

    if df.empty:
        return df
    train, attack = cells(ClsSettings.from_profile(profile))
    stale = (df["grid"] == GRID) & ~df["cell"].isin([*train.values(), *attack.values()])
    if grid_cells is not None:
        stale |= df["grid"].isin(GRIDS) & ~df["cell"].isin(grid_cells)
    return df[~stale].reset_index(drop=True)


def run(profile, store, device=None, progress: bool = True, settings: ClsSettings | None = None) -> None:
    """Train (or load) both classifiers, attack each with BIM, store every classifier's accuracy and
    per-image flags (resumable: a cell is skipped when its rows are stored).

    Args:
        profile: The run profile (scales :class:`ClsSettings`).
        store: The study's ``ResultStore``.
        device: Where to train and attack (default: CUDA when available).
        progress: tqdm bars while training.
        settings: Override the settings derived from ``profile``.
    """
    s = settings or ClsSettings.from_profile(profile)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train_cells, attack_cells = cells(s)
    counts = counts_store(store)
    if all(store.has_cell(c) for c in train_cells.values()) and all(
            store.has_cell(c) and counts.has(c) for c in attack_cells.values()):
        return
    models = {n: get_classifier(s.config(n), device=device, progress=progress) for n in CLASSIFIERS}
    for n, cell in train_cells.items():
        if not store.has_cell(cell):
            meta = models[n].checkpoint_meta
            store.add([_row(s, cell, source="-", target=n, method="clean", eps=0.0, iteration=0,
                            metric=m, value=float(meta[m])) for m in ("val_accuracy", "train_seconds")])
    val = SyntheticClassification(s.preset, "val", size=s.config(CLASSIFIERS[0]).size, length=s.n_images)
    if len(val) < s.n_images:
        raise ValueError(f"the classification val split has {len(val)} images, the study needs {s.n_images}")
    images, labels = val.tensors(list(range(s.n_images)))
    for (src, e), cell in attack_cells.items():
        if store.has_cell(cell) and counts.has(cell):
            continue
        parts = []
        for lo in range(0, s.n_images, s.batch_size):
            x, y = images[lo:lo + s.batch_size].to(device), labels[lo:lo + s.batch_size].to(device)
            snaps = {0: x, **bim_classifier(models[src], x, y, eps=e, alpha=s.alpha, steps=s.steps,
                                            snapshots=s.snapshots)}
            parts.append({(t, "1", it): image_flags(models[t], adv, y) for t in CLASSIFIERS for it, adv in snaps.items()})
        merged = concat(parts)
        counts.save(cell, merged)
        store.drop(cell, list(CLASSIFIERS))
        store.add([_row(s, cell, source=src, target=t, method="bim", eps=e, iteration=it, metric="accuracy",
                        value=1.0 - float(metrics_from_counts(c)["mis_ratio"]))
                   for (t, _, it), c in merged.items()])


def estimated_seconds(profile) -> dict[str, float]:
    """Estimated 2-core CPU seconds of every DS grid (attacks and evaluations) and of the classifier study,
    from :data:`COST` at ``image_size`` 96 (a planning number, not a measurement)."""
    from segrepro.studies.dynamic_scaling.grids import COST, DS, grids, scale_cost

    out: dict[str, float] = {}
    for g in grids(profile):
        for cell in g.cells():
            per = COST["iteration"] * (1 + COST["ds_extra"] * (cell.method.name == DS))
            evals = len(g.all_targets) * sum(scale_cost(s) for s in g.eval_scales) * (len(g.snapshots) + 1)
            out[g.grid] = out.get(g.grid, 0.0) + g.n_images * (g.steps * per + evals * COST["evaluation"])
    s = ClsSettings.from_profile(profile)
    per_source = s.steps * COST["cls_iteration"] + 2 * (len(s.snapshots) + 1) * COST["cls_evaluation"]
    out["classification"] = len(s.eps) * s.n_images * 2 * per_source
    return out
