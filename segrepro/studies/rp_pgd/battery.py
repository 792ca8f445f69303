"""The non-grid steps of the RP-PGD study (its ``extra``): the AT battery and the False-region check.

Both are resumable: each unit of work is a cell whose key hashes everything that determines it
(for the battery also the model's training config key, so a retrained AT model is re-evaluated).
Rows follow ``segrepro.run.store.COLUMNS`` with ``source == target`` (white-box).
"""
from __future__ import annotations

import hashlib
import json

from segrepro.run.battery import robustness_table
from segrepro.run.zoo import train_config
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd.grids import NAME, battery, battery_models, n_images, seeds


def _key(*payload) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _row(profile, grid: str, cell: str, model: str, **kw) -> dict:
    base = dict(study=NAME, preset=profile.presets[0], grid=grid, cell=cell, source=model, target=model,
                eval_scale="1", params="{}", eps=profile.paper_eps, seed=0)
    return {**base, **kw}


def run_battery(profile, zoo, store, progress: bool = True) -> None:
    """Tables 4-5: the robustness battery on every model of :func:`battery_models` (one cell per model)."""
    preset = profile.presets[0]
    images, labels = zoo.data(preset, n_images(profile))
    for name, full in battery_models(profile).items():
        items = battery(profile, tuple(images.shape[1:]), full)
        origin = profile.checkpoints.get(name) if profile.checkpoints else train_config(profile, preset, name).key()
        cell = "at-" + _key(preset, name, origin, [(i.name, i.steps, i.norm, i.eps, i.alpha) for i in items],
                            n_images(profile), profile.paper_eps, profile.alpha, seeds(profile)[0])
        if store.has_cell(cell):
            continue
        model = zoo.model(preset, name)
        trained = name.split("@")[1] if "@" in name else "Standard"
        table = robustness_table({name: model}, images.to(zoo.device), labels.to(zoo.device), items,
                                 eps=profile.paper_eps, alpha=profile.alpha, batch_size=profile.batch_size,
                                 seed=seeds(profile)[0], training_attacks={name: trained})
        rows = []
        for r in table.itertuples():
            params = json.dumps({"norm": r.norm}, sort_keys=True, separators=(",", ":"))
            for metric in ("miou", "mis_ratio", "seconds"):
                rows.append(_row(profile, "at_battery", cell, name, method=r.attack, params=params, eps=r.eps,
                                 iteration=int(r.steps), seed=int(r.seed), metric=metric,
                                 value=float(getattr(r, metric))))
        store.add(rows)


def false_region(model, images, labels, steps: int, eps: float, alpha: float, seed: int, batch_size: int) -> float:
    """Fraction of valid pixels mispredicted on the clean image that PGD predicts correctly on some iterate.

    RP-PGD Sec. "Region-Based Attack" (PSPNet, VOC, 100 PGD iterations: < 1 %). Iterates ``1..steps``.

    Shape:
        images ``(N,3,H,W)``, labels ``(N,H,W)`` -> a float in [0, 1] (NaN when no pixel is mispredicted).
    """
    import torch

    from segrepro.attacks import attack
    from segrepro.metrics import predict
    from segrepro.validation import IGNORE_INDEX

    wrong0 = restored = 0
    for b, lo in enumerate(range(0, len(images), batch_size)):
        x, y = images[lo:lo + batch_size], labels[lo:lo + batch_size]
        wrong = (predict(model, x) != y) & (y != IGNORE_INDEX)
        back = torch.zeros_like(wrong)
        snaps = attack(model, x, y, "pgd", eps=eps, alpha=alpha, steps=steps, snapshots=list(range(1, steps + 1)),
                       seed=seed * 1_000_003 + b)
        for adv in snaps.values():
            back |= wrong & (predict(model, adv) == y)
        wrong0 += int(wrong.sum())
        restored += int(back.sum())
    return restored / wrong0 if wrong0 else float("nan")


def run_false_region(profile, zoo, store, progress: bool = True) -> None:
    """The False-region check on the clean AT-architecture model, one cell per seed."""
    preset, arch, t = profile.presets[0], rp.at_arch(profile), rp.whitebox_steps(profile)
    images, labels = zoo.data(preset, n_images(profile))
    for seed in seeds(profile):
        cell = "fr-" + _key(preset, arch, t, n_images(profile), profile.paper_eps, profile.alpha, seed)
        if store.has_cell(cell):
            continue
        model = zoo.model(preset, arch)
        frac = false_region(model, images.to(zoo.device), labels.to(zoo.device), t, profile.paper_eps,
                            profile.alpha, seed, profile.batch_size)
        store.add([_row(profile, "false_region", cell, arch, method="pgd", iteration=t, seed=seed,
                        metric="false_restored", value=frac)])
