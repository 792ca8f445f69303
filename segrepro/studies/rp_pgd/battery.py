"""The non-grid steps of the RP-PGD study (its ``extra``): the False-region check and the gradient balance.

Both are resumable: each unit of work is a cell whose key hashes everything that determines it
(the model's weights fingerprint included), and both write per-image arrays to the study's counts
folder (``counts/rp_pgd/<cell>.npz``, key ``(model, "1", iteration)``) so that the claims can put a
bootstrap interval over images on them. Rows follow ``segrepro.run.store.COLUMNS`` with
``source == target`` (white-box).

The AT battery of Tables 4-5 is a set of grids (``grids.grids``: ``whitebox`` and ``battery``), so it
streams and writes per-image counts like every other cell.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch

from segrepro.run.counts import CountStore
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd.grids import NAME, n_images, seeds


def _key(*payload) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _row(profile, grid: str, cell: str, model: str, **kw) -> dict:
    base = dict(study=NAME, preset=profile.presets[0], grid=grid, cell=cell, source=model, target=model,
                eval_scale="1", params="{}", eps=profile.paper_eps, seed=0)
    return {**base, **kw}


def _counts_store(store) -> CountStore:
    return CountStore(store.path.parent / "counts" / NAME)


def false_region(model, images, labels, steps: int, eps: float, alpha: float, seed: int, batch_size: int,
                 snapshots=None) -> dict[int, dict[str, np.ndarray]]:
    """Per image: valid pixels mispredicted on the clean image, and how many of them PGD predicts
    correctly on some iterate ``1..t``, for each ``t`` of ``snapshots`` (default: ``steps``).

    RP-PGD Sec. "Region-Based Attack" (PSPNet, VOC, 100 PGD iterations: < 1 % come back).

    Returns:
        ``{t: {"wrong": (N,), "restored": (N,), "valid": (N,)}}`` int64 counts.

    Shape:
        images ``(N,3,H,W)``, labels ``(N,H,W)``.
    """
    from segrepro.attacks import attack
    from segrepro.metrics import predict
    from segrepro.validation import IGNORE_INDEX

    snaps = sorted(set(snapshots or (steps,)))
    out: dict[int, dict[str, list]] = {t: {"wrong": [], "restored": [], "valid": []} for t in snaps}
    for b, lo in enumerate(range(0, len(images), batch_size)):
        x, y = images[lo:lo + batch_size], labels[lo:lo + batch_size]
        valid = y != IGNORE_INDEX
        wrong = (predict(model, x) != y) & valid
        back = torch.zeros_like(wrong)
        iterates = attack(model, x, y, "pgd", eps=eps, alpha=alpha, steps=steps,
                          snapshots=list(range(1, steps + 1)), seed=seed * 1_000_003 + b)
        for t in range(1, steps + 1):
            back |= wrong & (predict(model, iterates[t]) == y)
            if t in out:
                out[t]["wrong"].append(wrong.flatten(1).sum(1).cpu())
                out[t]["restored"].append(back.flatten(1).sum(1).cpu())
                out[t]["valid"].append(valid.flatten(1).sum(1).cpu())
    return {t: {k: torch.cat(v).numpy().astype(np.int64) for k, v in d.items()} for t, d in out.items()}


def run_false_region(profile, zoo, store, progress: bool = True) -> None:
    """The False-region check on the clean AT-architecture model, one cell per seed (PGD is random)."""
    preset, arch, t = profile.presets[0], rp.at_arch(profile), rp.whitebox_steps(profile)
    snaps = rp.snapshots(profile)
    counts = _counts_store(store)
    fp = zoo.fingerprint(preset, arch)
    for seed in seeds(profile):
        cell = "fr-" + _key(preset, arch, fp, t, snaps, n_images(profile), profile.paper_eps, profile.alpha, seed)
        if store.has_cell(cell) and counts.has(cell):
            continue
        images, labels = zoo.data(preset, n_images(profile))
        model = zoo.model(preset, arch)
        per = false_region(model, images.to(zoo.device), labels.to(zoo.device), t, profile.paper_eps,
                           profile.alpha, seed, profile.batch_size, snaps)
        counts.save(cell, {(arch, "1", s): v for s, v in per.items()})
        rows = []
        for s, v in per.items():
            frac = v["restored"].sum() / v["wrong"].sum() if v["wrong"].sum() else float("nan")
            rows.append(_row(profile, "false_region", cell, arch, method="pgd", iteration=s, seed=seed,
                             metric="false_restored", value=float(frac)))
        store.add(rows)


def gradient_balance(model, images, labels, steps: int, eps: float, alpha: float, seed: int, batch_size: int,
                     beta: float = 0.75) -> dict[str, np.ndarray]:
    """How the prototype term's input gradient compares with the region loss's along RP-PGD's run.

    Follows the released reading's trajectory (a sign step on ``L_R`` alone, Eq. 4 weights, random
    start); at every iteration ``i = 1..steps`` it takes ``g_R = grad(beta L_R)`` and
    ``g_P = grad((1 - beta) L_P)`` (prototypes of the True region, features with gradient) and records,
    per image, ``||g_P|| / ||g_R||`` and the fraction of input components whose sign step
    ``sign(g_R + g_P)`` differs from ``sign(g_R)`` (what ``prototype_grad=True`` changes), averaged
    over the iterations.

    Returns:
        ``{"ratio": (N,), "flip": (N,), "one": (N,), "valid": (N,)}`` (float; ``one`` = 1 for weighted means).
    """
    from segrepro.attacks.weights import (class_argmax, prototype_loss, rppgd_lambdas, rppgd_regions,
                                          rppgd_update, weighted_ce)
    from segrepro.validation import IGNORE_INDEX

    ratios, flips, valids = [], [], []
    for b, lo in enumerate(range(0, len(images), batch_size)):
        x0, y = images[lo:lo + batch_size], labels[lo:lo + batch_size]
        gen = torch.Generator(device=x0.device).manual_seed(seed * 1_000_003 + b)
        x = (x0 + (torch.rand(x0.shape, generator=gen, device=x0.device, dtype=x0.dtype) * 2 - 1) * eps).clamp(0, 1)
        valid = y != IGNORE_INDEX
        with torch.no_grad():
            clean_correct = (class_argmax(model(x0)) == y) & valid
        ever_wrong = torch.zeros_like(clean_correct)
        ratio = torch.zeros(len(x0), device=x0.device)
        flip = torch.zeros(len(x0), device=x0.device)
        for i in range(1, steps + 1):
            xv = x.detach().requires_grad_(True)
            logits, features = model.forward_with_features(xv)
            with torch.no_grad():
                ever_wrong = rppgd_update(ever_wrong, clean_correct, class_argmax(logits), y)
                true, boundary, false = rppgd_regions(clean_correct, ever_wrong, y)
                lams = rppgd_lambdas(i, steps)
                w = (lams[0] * true + lams[1] * boundary + lams[2] * false).float()
            l_r = beta * weighted_ce(logits.float(), y, w)
            l_p = (1 - beta) * prototype_loss(features.float(), y, true, num_classes=logits.shape[1])
            (g_r,) = torch.autograd.grad(l_r, xv, retain_graph=True)
            (g_p,) = torch.autograd.grad(l_p, xv, allow_unused=True)
            g_p = torch.zeros_like(g_r) if g_p is None else g_p
            ratio += g_p.flatten(1).norm(dim=1) / g_r.flatten(1).norm(dim=1).clamp(min=1e-30)
            flip += (torch.sign(g_r + g_p) != torch.sign(g_r)).flatten(1).float().mean(1)
            with torch.no_grad():
                x = torch.min(torch.max(x + alpha * torch.sign(g_r), x0 - eps), x0 + eps).clamp(0, 1)
        ratios.append((ratio / steps).detach().cpu())
        flips.append((flip / steps).detach().cpu())
        valids.append(valid.flatten(1).sum(1).cpu())
    ratio, flip = torch.cat(ratios).double().numpy(), torch.cat(flips).double().numpy()
    return {"ratio": ratio, "flip": flip, "one": np.ones_like(ratio), "valid": torch.cat(valids).numpy()}


def run_gradient_balance(profile, zoo, store, progress: bool = True) -> None:
    """The gradient balance of ``prototype_grad=True`` on each ablation model (first seed: a measurement, not a claim)."""
    preset, t, seed = profile.presets[0], rp.ablation_steps(profile), seeds(profile)[0]
    counts = _counts_store(store)
    for src in rp.ablation_sources(profile):
        fp = zoo.fingerprint(preset, src)
        cell = "gb-" + _key(preset, src, fp, t, n_images(profile), profile.paper_eps, profile.alpha, seed)
        if store.has_cell(cell) and counts.has(cell):
            continue
        images, labels = zoo.data(preset, n_images(profile))
        model = zoo.model(preset, src)
        per = gradient_balance(model, images.to(zoo.device), labels.to(zoo.device), t, profile.paper_eps,
                               profile.alpha, seed, profile.batch_size)
        counts.save(cell, {(src, "1", t): per})
        store.add([_row(profile, "grad_balance", cell, src, method="rp_pgd", iteration=t, seed=seed, metric=m,
                        value=float(per[m].mean())) for m in ("ratio", "flip")])
