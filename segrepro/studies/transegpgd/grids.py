"""TranSegPGD (arXiv 2312.02207, summary only): the grids of notebook ``02_transegpgd``.

Every grid writes to ``results/<profile>/transegpgd.csv`` (``study="transegpgd"``):

=================  =====================================================================================
grid               what
=================  =====================================================================================
``transfer``       at the papers' eps (:func:`main_eps`, 0.03): TranSegPGD, the prior attacks of
                   :func:`attack_baselines` (PGD, SegPGD, CosPGD from ``profile.baselines``, and DS), MI
                   and TranSegPGD+MI (the summary's combination), from :func:`sources` to every target.
``transfer_eps2``  the same methods at the second eps (:func:`second_eps`, 0.06 in ``embedded``) from the
                   last ``profile.transfer_second_sources`` sources: the second-scale reading of the claims.
``ablation``       the **[ours]** choices of TranSegPGD on :func:`ablation_source` at the main eps:
                   ``stage1_favour="wrong"``, ``switch="all_fooled"``, ``gamma`` and ``beta`` in
                   :func:`weights` (0.5: a stage of plain cross-entropy, read by the stage claims). The
                   default cell is the ``transfer`` one (same key, computed once).
=================  =====================================================================================

**One start policy** for TranSegPGD and every baseline (``profile.transfer_random_start``, default
``False``: TranSegPGD, DS, MI and SegTrans start at the clean image, so PGD runs as BIM and SegPGD /
CosPGD with ``random_start=False``); :func:`method_spec` applies it. Deterministic cells (no random
start, no random input transform) run the first seed only, the others every seed of the profile.
Images per cell: :func:`study_images`. The ``segtrans`` and ``comparison`` studies reuse cells of
these grids (:func:`shared_grids`).
"""
from __future__ import annotations

import math

from segrepro.attacks.methods import get_method
from segrepro.report import transfer as tt
from segrepro.run.grid import GridSpec, MethodSpec

NAME = "transegpgd"
MAIN, SECOND, ABLATION = "transfer", "transfer_eps2", "ablation"
#: The paper method of the DS study, a prior transfer attack for TranSegPGD.
PRIOR_PAPERS = ("ds",)
#: The transfer attack the summary combines TranSegPGD with ("can combine with ... MI-FGSM").
COMBINED = ("mi",)
#: A stage weight that makes the stage plain cross-entropy (the stage claims compare the default with it).
UNIFORM = 0.5


def attack_baselines(profile) -> tuple[str, ...]:
    """The prior attacks TranSegPGD is judged against: ``profile.baselines`` with an objective or random
    start of their own (PGD, SegPGD, CosPGD), then :data:`PRIOR_PAPERS` (DS)."""
    return (*(b for b in profile.baselines if not tt.is_transform(b)), *PRIOR_PAPERS)


def combined(profile) -> tuple[str, ...]:
    """The transfer attacks of :data:`COMBINED` that ``profile.baselines`` holds (MI)."""
    return tuple(b for b in COMBINED if b in profile.baselines)


def ours(profile) -> tuple[str, ...]:
    """TranSegPGD alone and combined with each of :func:`combined`."""
    return ("transegpgd", *(f"transegpgd+{t}" for t in combined(profile)))


def methods(profile) -> tuple[str, ...]:
    """Every method of the transfer grids (names before the start policy)."""
    return (*attack_baselines(profile), *combined(profile), *ours(profile))


def study_images(profile) -> int:
    """Images attacked per cell: ``profile.transfer_images`` (``None``: ``profile.n_images``), as ``ds_images``
    and ``rp_images`` do for their studies (the claims want at least 64)."""
    return profile.n_images if profile.transfer_images is None else profile.transfer_images


def sources(profile) -> tuple[str, ...]:
    """The sources of the transfer grid: the first ``profile.transfer_sources`` of ``profile.sources``."""
    return tuple(profile.sources[:profile.transfer_sources])


def ablation_source(profile) -> str:
    """The source of the ablations: the last transfer source (a ResNet one in ``embedded``)."""
    return sources(profile)[-1]


def main_eps(profile) -> float:
    """The budget of the claims: the papers' (the first of ``profile.eps``, 0.03)."""
    return profile.paper_eps


def second_eps(profile) -> float | None:
    """The budget of the second reading: the largest other eps of the profile (None: none, or no second sources)."""
    other = [e for e in profile.eps if not math.isclose(e, main_eps(profile))]
    return float(max(other)) if other and profile.transfer_second_sources > 0 else None


def second_sources(profile) -> tuple[str, ...]:
    """The sources of the second-eps reading: the last ``profile.transfer_second_sources`` transfer sources."""
    n = profile.transfer_second_sources
    return sources(profile)[-n:] if n > 0 else ()


def snapshots(profile) -> tuple[int, ...]:
    """``profile.transfer_snapshots`` (or ``snapshots``) up to ``steps``, plus ``ceil(T/2)`` and ``T``."""
    t = profile.steps
    chosen = profile.transfer_snapshots if profile.transfer_snapshots is not None else profile.snapshots
    return tuple(sorted({s for s in chosen if s <= t} | {math.ceil(t / 2), t}))


def weights(profile) -> tuple[float, ...]:
    """The ``gamma`` / ``beta`` values of the ablation: ``profile.transfer_weights`` and :data:`UNIFORM`."""
    return tuple(sorted({float(w) for w in profile.transfer_weights} | {UNIFORM}))


def method_spec(profile, name: str, **params) -> MethodSpec:
    """``name`` with the profile's ``method_params`` (of it and of each part of a composition) and the
    start policy ``profile.transfer_random_start`` (PGD without random start is BIM: named ``bim``)."""
    merged = {}
    for part in (*name.split("+"), name):
        merged.update(profile.method_params.get(part, {}))
    merged.update(params)
    policy = bool(profile.transfer_random_start)
    if get_method(name).random_start != policy and "random_start" not in merged:
        if name == "pgd" and not policy:
            return MethodSpec("bim", merged)
        merged["random_start"] = policy
    return MethodSpec(name, merged)


def key(profile, name: str, **params) -> tt.Key:
    """The ``(method, params)`` of ``name`` in these grids (:func:`method_spec`)."""
    m = method_spec(profile, name, **params)
    return m.name, m.params_json


def is_deterministic(m: MethodSpec) -> bool:
    """True when seeds change nothing: no random start (after the override) and no input transform."""
    method = get_method(m.name)
    start = m.params.get("random_start")
    return not (method.random_start if start is None else start) and not method.inputs


def specs(profile, study: str, grid: str, methods, srcs, *, eps: float, snaps=None, steps: int | None = None,
          seeds=None) -> list[GridSpec]:
    """GridSpecs of ``methods`` with the studies' shared settings; deterministic methods get one seed."""
    seeds = tuple(seeds or profile.seeds)
    base = dict(study=study, preset=profile.presets[0], sources=tuple(srcs), targets=profile.targets,
                grid=grid, eps=(float(eps),), alpha=profile.alpha, steps=steps or profile.steps,
                snapshots=tuple(snaps or snapshots(profile)), n_images=study_images(profile),
                batch_size=profile.batch_size)
    det = [m for m in methods if is_deterministic(m)]
    rnd = [m for m in methods if not is_deterministic(m)]
    out = [GridSpec(methods=det, seeds=seeds[:1], **base)] if det else []
    return out + ([GridSpec(methods=rnd, seeds=seeds, **base)] if rnd else [])


def shared_grids(profile, names, study: str = NAME) -> list[GridSpec]:
    """The cells of the ``transfer`` and ``transfer_eps2`` grids for some of :func:`methods` (same keys:
    other studies reuse them)."""
    unknown = sorted(set(names) - set(methods(profile)))
    if unknown:
        raise ValueError(f"{unknown} are not methods of the transegpgd transfer grid; valid: {list(methods(profile))}")
    ms = [method_spec(profile, m) for m in names]
    out = specs(profile, study, MAIN, ms, sources(profile), eps=main_eps(profile))
    if second_eps(profile) is not None:
        out += specs(profile, study, SECOND, ms, second_sources(profile), eps=second_eps(profile),
                     snaps=second_snapshots(profile))
    return out


def second_snapshots(profile) -> tuple[int, ...]:
    """Snapshots of the second reading: ``ceil(T/2)`` and ``T`` (the claims read only these)."""
    return tuple(sorted({math.ceil(profile.steps / 2), profile.steps}))


def transfer_grids(profile) -> list[GridSpec]:
    """Every method of :func:`methods` at the main eps, and at the second eps from the second sources."""
    return shared_grids(profile, methods(profile))


def ablation_methods(profile) -> list[MethodSpec]:
    """The default TranSegPGD and one change of each [ours] choice."""
    ms = [method_spec(profile, "transegpgd"), method_spec(profile, "transegpgd", stage1_favour="wrong"),
          method_spec(profile, "transegpgd", switch="all_fooled")]
    ms += [method_spec(profile, "transegpgd", gamma=g) for g in weights(profile)]
    return ms + [method_spec(profile, "transegpgd", beta=b) for b in weights(profile)]


def ablation_grids(profile) -> list[GridSpec]:
    """The ablations of :func:`ablation_methods` on :func:`ablation_source` at the main eps."""
    return specs(profile, NAME, ABLATION, ablation_methods(profile), (ablation_source(profile),),
                 eps=main_eps(profile))


def grids(profile) -> list[GridSpec]:
    """Every grid of the study."""
    return [*transfer_grids(profile), *ablation_grids(profile)]
