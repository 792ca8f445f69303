"""Verdicts on the DS paper's claims (``claims.csv`` ids ``ds_*``), following ``shared/spec/verdicts.md``.

Each claim is judged once, at the paper's budget ``profile.paper_eps`` (0.03): a :class:`Claim` (what is
measured, in which unit, the claimed direction and threshold) with its parts (a source/target pair, a
source, a scale ...), every value a percentile bootstrap over images from the per-image counts
(:mod:`segrepro.studies.dynamic_scaling.measures`). A claim's summary value is the quantity it speaks
of (e.g. the mean DS - FS gap over the pairs, with "k of K pairs" in ``why``), never one part.
Thresholds are 0 unless the claim names an amount; the one of ours (Fig. 8's flatness tolerance) is
stated in ``threshold_note``. For a claim that is not reproduced, ``why`` adds the second-scale
evidence we have: the larger budget ``eps[1:]`` (the ``ds_second_eps`` cells) and a shorter horizon
(the previous snapshot), each with whether it moves toward the claimed side.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import pandas as pd

from segrepro.report.evidence import Evidence, MissingEvidence
from segrepro.report.outcomes import INCONCLUSIVE, REPRODUCED, Estimate, combine, format_estimate
from segrepro.report.verdicts import Claim, Part, claim_rows, table
from segrepro.studies.dynamic_scaling import measures as ms
from segrepro.studies.dynamic_scaling.classification import CLASSIFIERS
from segrepro.studies.dynamic_scaling.classification import reference_iteration as cls_reference
from segrepro.studies.dynamic_scaling.grids import (DS, FS, NAME, default_lam, psp_source, reference_iteration,
                                                    side_sources, vgg_source)

PAPER = "ds"
#: Fig. 8's "not sensitive to the ratio beyond 0.5", ours: |mIoU(lam) - mIoU(0.5)| within this many points.
FLAT_TOLERANCE = 2.0
_GAP = "DS minus FS {what} mIoU (DS at its last iteration, FS at its best snapshot for the pair)"
_RISE = "mean target mIoU at the last iteration minus at iteration {ref} ({method}, per source)"
#: claim id -> (quantity, unit, direction, threshold, threshold note): the reading of each claim.
READINGS = {
    "ds_cls_overfit": ("target accuracy at the last BIM iteration minus at iteration 20, per source -> target",
                       "accuracy points", "higher", 0.0, ""),
    "ds_cls_resnet_more": ("rise of target accuracy from iteration 20 to the last: ResNet-18 source minus VGG16 source",
                           "accuracy points", "higher", 0.0, ""),
    "ds_seg_vgg_no_overfit": (_RISE.format(ref=5, method="FS, VGG source"), "mIoU points", "lower", 0.0, ""),
    "ds_seg_resnet_overfit": (_RISE.format(ref=5, method="FS, ResNet sources"), "mIoU points", "higher", 0.0, ""),
    "ds_table1_ds_beats_fs": (_GAP.format(what="transfer"), "mIoU points", "lower", 0.0, ""),
    "ds_table2_ds_beats_fs": (_GAP.format(what="transfer"), "mIoU points", "lower", 0.0, ""),
    "ds_fig7_no_overfit": (_RISE.format(ref=5, method="DS, every source"), "mIoU points", "lower", 0.0, ""),
    "ds_fig8_scale_ratio": ("target mIoU at the larger minus at the smaller ratio lambda (summary: 0.5 minus 0); "
                            "parts beyond 0.5: mIoU(lambda) - mIoU(0.5)", "mIoU points", "lower", 0.0,
                            f"parts beyond 0.5: within +-{FLAT_TOLERANCE:g} points (ours; the paper: 'not sensitive')"),
    "ds_table3_at_targets": (_GAP.format(what="adversarially trained target"), "mIoU points", "lower", 0.0, ""),
    "ds_table4_multiscale": ("DS minus FS white-box mIoU at evaluation scale 50 %, 75 % and multi-scale",
                             "mIoU points", "lower", 0.0, ""),
    "ds_table4_fs_scale_gap": ("FS white-box mIoU at evaluation scale 50 % minus at 100 %", "mIoU points", "higher",
                               0.0, ""),
}
CLAIM_IDS = tuple(READINGS)


def claim_of(cid: str, claims: pd.DataFrame | None = None) -> Claim:
    """The :class:`Claim` of ``cid``: the paper's words from ``claims.csv``, our reading from :data:`READINGS`."""
    if claims is None:
        from segrepro import paper_values

        claims = paper_values.load("claims")
    row = claims[claims["id"] == cid]
    if row.empty or cid not in READINGS:
        raise ValueError(f"unknown DS claim id {cid!r}; valid: {', '.join(CLAIM_IDS)}")
    quantity, unit, direction, threshold, note = READINGS[cid]
    return Claim(cid, PAPER, row["claim"].iloc[0], quantity=quantity, unit=unit, direction=direction,
                 threshold=threshold, paper_value=str(row["paper_value"].iloc[0]), threshold_note=note)


@dataclasses.dataclass
class Judged:
    """What a check measured: parts (optionally each with its own direction/threshold), summary, why."""

    parts: list[Part]
    summary: Estimate | None
    why: str
    rules: list[tuple[str, float]] | None = None  # per part (direction, threshold), when they differ
    second: Callable[[], str] | None = None  # second-scale evidence, asked only when not reproduced


def fmt(e: Estimate | None, digits: int = 2) -> str:
    """``"-3.10 [-4.20, -2.00]"`` (or the value alone with the reason there is no interval)."""
    return format_estimate(e, digits, say_why=True)


def toward(first: Estimate, other: Estimate, direction: str) -> str:
    """Whether ``other`` lies further on the claimed side than ``first``."""
    better = other.value < first.value if direction == "lower" else other.value > first.value
    return "toward the claimed side" if better else "away from the claimed side"


# --- the checks ------------------------------------------------------------------------------------

def _gap_claim(r: ms.Reader, profile, *, preset: str, at: bool, direction: str = "lower") -> Judged:
    """Tables 1-3: DS - FS per pair (parts), the mean gap (summary), pairs won in ``why``."""
    eps = profile.paper_eps

    def measure(e, ds_iteration=None, sources=None):
        found = ms.pairs(r, grid="transfer", preset=preset, eps=e, at=at, sources=sources)
        return {f"{s} -> {t}": ms.ds_minus_fs(r, source=s, target=t, grid="transfer", preset=preset, eps=e,
                                              ds_iteration=ds_iteration) for s, t in found}

    found = measure(eps)
    parts = {k: m.estimate() for k, m in found.items()}
    summary = ms.mean_of(list(found.values())).estimate()
    won = sum(e.value < 0 for e in parts.values())
    worst = max(parts, key=lambda k: parts[k].value)
    why = (f"DS lower on {won} of {len(parts)} pairs (mean gap {summary.value:+.2f} points); "
           f"the least favourable pair: {worst} {fmt(parts[worst])}.")

    def second() -> str:
        out = []
        for e in profile.eps[1:]:
            try:
                here = measure(e)
                alt = ms.mean_of(list(here.values())).estimate()
                same = ms.mean_of(list(measure(eps, sources={k.split(' -> ')[0] for k in here}).values())).estimate()
            except MissingEvidence:
                continue
            won_e = sum(m.value() < 0 for m in here.values())
            out.append(f"at eps {e:g} ({len(here)} pairs from {', '.join(sorted({k.split(' -> ')[0] for k in here}))}) "
                       f"the mean gap is {fmt(alt)}, DS lower on {won_e} of {len(here)}, against {same.value:+.2f} "
                       f"on the same pairs at {eps:g}: {toward(same, alt, direction)}")
        out.append(_horizon(lambda t: ms.mean_of(list(measure(eps, ds_iteration=t).values())), r, summary,
                            direction, grid="transfer", preset=preset, eps=eps, method=DS))
        return "; ".join(o for o in out if o)

    return Judged([Part(k, v) for k, v in parts.items()], summary, why, second=second)


def _horizon(measure_at: Callable[[int], ms.Measure], r: ms.Reader, value: Estimate, direction: str,
             **where) -> str:
    """The same quantity with the last iteration replaced by the previous snapshot."""
    try:
        its = r.iterations(**where)
        if len(its) < 2:
            return ""
        prev = its[-2]
        alt = measure_at(prev).estimate()
    except MissingEvidence:
        return ""
    return (f"after {prev} instead of {its[-1]} iterations it is {fmt(alt)}: more iterations move it "
            f"{toward(alt, value, direction).replace('the claimed side', 'the claim')}")


def check_table(r, profile, preset_index: int) -> Judged:
    if preset_index >= len(profile.presets):
        raise MissingEvidence(f"no second dataset (this profile has only {', '.join(profile.presets)})")
    return _gap_claim(r, profile, preset=profile.presets[preset_index], at=False)


def check_at(r, profile) -> Judged:
    if not profile.at_models:
        raise MissingEvidence("no adversarially trained targets (this run has none)")
    return _gap_claim(r, profile, preset=profile.presets[0], at=True)


def _rise_claim(r, profile, *, sources, method: str, direction: str, long_source: str | None = None) -> Judged:
    """Overfitting (Figs 3-5, 7): last minus reference iteration, one part per source (and the long run)."""
    preset, eps = profile.presets[0], profile.paper_eps
    ref = reference_iteration(profile.steps)

    def measure(src, e, last=None):
        return ms.rise(r, source=src, method=method, reference=ref, last=last, grid="transfer", preset=preset, eps=e)

    found = {}
    for src in sources:
        try:
            found[f"{src}, iteration {ref} -> {profile.steps}"] = measure(src, eps)
        except MissingEvidence:
            continue
    if not found:
        raise MissingEvidence(f"no {method} curves of {', '.join(sources)}")
    parts = {k: m.estimate() for k, m in found.items()}
    summary = ms.mean_of(list(found.values())).estimate()
    shorter = ""
    if long_source is not None:
        try:
            m = ms.rise(r, source=long_source, method=method, reference=ref, grid="long", preset=preset, eps=eps)
            last = r.iterations(grid="long", source=long_source, method=method)[-1]
            # The long run continues the same attack on more images (its first images are the transfer grid's):
            # the source's part ("keeps falling up to 1k and 10k") is judged on the longest run; the shorter one
            # is reported in the why. A claim about that source alone takes the long run as its summary; one
            # over several sources keeps the mean of the transfer grid's parts (paired on the same images).
            short = f"{long_source}, iteration {ref} -> {profile.steps}"
            if short in parts:
                shorter = (f" The {profile.steps}-iteration run of the transfer grid ({long_source}): "
                           f"{fmt(parts.pop(short))}.")
            longer = m.estimate()
            if len(sources) == 1:
                summary = longer
            parts[f"{long_source}, iteration {ref} -> {last} (long run, {longer.n_images} images)"] = longer
        except MissingEvidence:
            pass
    rises = "; ".join(f"{k}: {e.value:+.2f}" for k, e in parts.items())
    why = f"mean target mIoU change (points) {rises}.{shorter}"

    def second() -> str:
        out = []
        for e in profile.eps[1:]:
            here = {}
            for src in sources:
                try:
                    here[src] = (measure(src, e).estimate(), measure(src, eps).estimate())
                except MissingEvidence:
                    continue
            if here:
                out.append(f"at eps {e:g}: " + ", ".join(f"{s} {a.value:+.2f} (vs {b.value:+.2f}, {toward(b, a, direction)})"
                                                         for s, (a, b) in here.items()))
        its = r.iterations(grid="transfer", preset=preset, eps=eps, method=method)
        if len(its) >= 2 and its[-2] > ref:
            alt = ms.mean_of([measure(s, eps, its[-2]) for s in sources if any(k.startswith(f"{s},") for k in found)])
            out.append(f"from {ref} to {its[-2]} iterations the mean change is {fmt(alt.estimate())}")
        return "; ".join(out)

    return Judged([Part(k, v) for k, v in parts.items()], summary, why, second=second)


def check_vgg_no_overfit(r, profile) -> Judged:
    vgg = vgg_source(profile)
    if "vgg" not in vgg:
        raise MissingEvidence(f"no VGG-backbone source (sources: {', '.join(profile.sources)})")
    return _rise_claim(r, profile, sources=[vgg], method=FS, direction="lower", long_source=vgg)


def check_resnet_overfit(r, profile) -> Judged:
    resnets = [s for s in profile.sources if "vgg" not in s]
    if not resnets:
        raise MissingEvidence(f"no ResNet-backbone source (sources: {', '.join(profile.sources)})")
    return _rise_claim(r, profile, sources=resnets, method=FS, direction="higher")


def check_fig7(r, profile) -> Judged:
    vgg = vgg_source(profile)
    return _rise_claim(r, profile, sources=list(profile.sources), method=DS, direction="lower",
                       long_source=vgg if "vgg" in vgg else None)


def check_fig8(r, profile) -> Judged:
    """Fig. 8 (PSPNet-Res50 source, FCN8s-VGG16 target): 0.1 below 0, 0.5 below 0.1, flat beyond 0.5."""
    default = default_lam(profile)
    where = dict(default=default, source=psp_source(profile), target=vgg_source(profile),
                 preset=profile.presets[0], eps=profile.paper_eps, steps=profile.steps)
    lams = sorted({0.0, 0.1, default, *(float(x) for x in profile.ds_lambdas)})
    m = {lam: ms.lambda_miou(r, lam=lam, **where) for lam in lams if lam in (0.0, 0.1, default) or lam > default}
    if 0.1 not in m:
        raise MissingEvidence("no lambda = 0.1 rows")
    parts = [(Part("lambda 0.1 minus 0", ms.difference(m[0.1], m[0.0]).estimate()), ("lower", 0.0)),
             (Part(f"lambda {default:g} minus 0.1", ms.difference(m[default], m[0.1]).estimate()), ("lower", 0.0))]
    parts += [(Part(f"lambda {lam:g} minus {default:g}", ms.difference(m[lam], m[default]).estimate()),
               ("within", FLAT_TOLERANCE)) for lam in lams if lam > default]
    summary = ms.difference(m[default], m[0.0]).estimate()
    curve = ", ".join(f"{lam:g}: {m[lam].value():.1f}" for lam in sorted(m))
    why = (f"{where['source']} -> {where['target']} mIoU by lambda (%): {curve} (0 is FS after {profile.steps} "
           f"iterations; beyond {default:g} the parts must stay within +-{FLAT_TOLERANCE:g} points, our tolerance for "
           f"the paper's 'not sensitive').")
    return Judged([p for p, _ in parts], summary, why, rules=[rule for _, rule in parts])


def check_multiscale(r, profile) -> Judged:
    where = dict(grid="scales", preset=profile.presets[0], eps=profile.paper_eps)
    found = {}
    for src in side_sources(profile):
        for scale, name in (("0.5", "50 %"), ("0.75", "75 %"), ("ms", "multi-scale")):
            try:
                found[f"{src} at {name}"] = ms.ds_minus_fs(r, source=src, target=src, eval_scale=scale, fs_last=True,
                                                           **where)
            except MissingEvidence:
                continue
    if not found:
        raise MissingEvidence("no scales grid")
    parts = {k: v.estimate() for k, v in found.items()}
    summary = ms.mean_of(list(found.values())).estimate()
    won = sum(e.value < 0 for e in parts.values())
    return Judged([Part(k, v) for k, v in parts.items()], summary,
                  f"DS below FS in {won} of {len(parts)} (source, scale) cells; mean gap {summary.value:+.2f} points.")


def check_fs_scale_gap(r, profile) -> Judged:
    where = dict(grid="scales", preset=profile.presets[0], eps=profile.paper_eps)
    found = {}
    for src in side_sources(profile):
        try:
            half = ms.last_miou(r, source=src, target=src, method=FS, eval_scale="0.5", **where)
            full = ms.last_miou(r, source=src, target=src, method=FS, eval_scale="1", **where)
        except MissingEvidence:
            continue
        found[src] = (ms.difference(half, full), half.value(), full.value())
    if not found:
        raise MissingEvidence("no FS rows in the scales grid")
    parts = {k: v[0].estimate() for k, v in found.items()}
    summary = ms.mean_of([v[0] for v in found.values()]).estimate()
    why = "FS white-box mIoU at 50 % vs 100 %: " + ", ".join(f"{k} {h:.1f} vs {f:.1f}" for k, (_, h, f) in found.items()) + "."
    return Judged([Part(k, v) for k, v in parts.items()], summary, why)


def _cls(df, evidence, profile):
    c = ms.ClassifierReader(df, evidence.store)
    eps = profile.paper_eps
    pairs = c.pairs(eps)
    its = c.iterations(eps)
    ref = cls_reference(its[-1])
    if not pairs or ref is None:
        raise MissingEvidence("no classifier pairs")
    return c, eps, pairs, its, ref


def _cls_curves(c, eps, pairs, its) -> str:
    return "; ".join(f"{s} -> {t}: " + ", ".join(f"{it}: {c.accuracy(s, t, eps, it).value():.1f}" for it in its)
                     for s, t in pairs)


def _not_transferring(c, eps, pairs, its) -> str:
    """A sentence when no attack lowers the target's accuracy (then overfitting cannot show), else ""."""
    drops = [c.accuracy(s, t, eps, 0).value() - min(c.accuracy(s, t, eps, it).value() for it in its if it)
             for s, t in pairs]
    if max(drops) <= 0:
        return "our classifiers' BIM examples do not transfer at all: target accuracy never falls below its clean value"
    return ""


def check_cls_overfit(df, evidence, profile) -> Judged:
    c, eps, pairs, its, ref = _cls(df, evidence, profile)
    blocked = _not_transferring(c, eps, pairs, its)
    if blocked:
        return Judged([], None, blocked)
    found = {f"{s} -> {t}": c.rise(s, t, eps, ref) for s, t in pairs}
    why = f"target accuracy (%) by iteration: {_cls_curves(c, eps, pairs, its)}."
    return Judged([Part(k, v.estimate()) for k, v in found.items()], ms.mean_of(list(found.values())).estimate(), why)


def check_cls_resnet_more(df, evidence, profile) -> Judged:
    c, eps, pairs, its, ref = _cls(df, evidence, profile)
    res = [(s, t) for s, t in pairs if "vgg" not in s]
    vgg = [(s, t) for s, t in pairs if "vgg" in s]
    if not res or not vgg:
        raise MissingEvidence(f"no ResNet and VGG classifier source (have {', '.join(CLASSIFIERS)})")
    a, b = c.rise(*res[0], eps, ref), c.rise(*vgg[0], eps, ref)
    why = (f"rise from iteration {ref} to {its[-1]}: from the ResNet source {a.value():+.2f}, from the VGG "
           f"source {b.value():+.2f} accuracy points.")
    blocked = _not_transferring(c, eps, pairs, its)
    return Judged([], None, blocked) if blocked else Judged([], ms.difference(a, b).estimate(), why)


# --- the table ---------------------------------------------------------------------------------------

def _rows(claim: Claim, j: Judged) -> list[dict]:
    if j.summary is None and not j.parts:
        return claim_rows(claim, not_testable=j.why, study=NAME)
    if j.rules is None:
        rows = claim_rows(claim, j.parts, summary=j.summary, why=j.why, study=NAME)
    else:  # parts with their own direction and threshold (Fig. 8): judge each, combine
        parts = [claim_rows(dataclasses.replace(claim, direction=d, threshold=t), [p], study=NAME)[1]
                 for p, (d, t) in zip(j.parts, j.rules)]
        head = claim_rows(claim, summary=j.summary, why=j.why, study=NAME)[0]
        head["outcome"] = combine([p["outcome"] for p in parts])
        needed = [p["n_needed"] for p in parts if p["outcome"] == INCONCLUSIVE]
        head["n_needed"] = max(needed) if head["outcome"] == INCONCLUSIVE and needed and None not in needed else None
        rows = [head, *parts]
    if rows[0]["outcome"] != REPRODUCED and j.second is not None:
        extra = j.second()
        if extra:
            rows[0]["why"] = f"{j.why} Second scale: {extra}."
    return rows


def _text(err: Exception) -> str:
    return str(err.args[0]) if err.args else str(err)


def claims(df: pd.DataFrame, profile, counts=None) -> pd.DataFrame:
    """Every DS claim, judged at ``profile.paper_eps`` (``segrepro.report.verdicts.table`` rows).

    Args:
        df: The study's rows (``Study.results``).
        profile: The profile the rows come from.
        counts: The folder of their per-image counts (default ``results/<profile>/counts/dynamic_scaling/``).

    Returns:
        One row per claim and one per part (verdicts.md columns plus ``study``); a claim whose rows this
        profile did not produce is "not testable here", saying which.
    """
    evidence = Evidence(counts) if counts is not None else Evidence.of(profile, NAME)
    r = ms.Reader(df, evidence)
    checks = {
        "ds_cls_overfit": lambda: check_cls_overfit(df, evidence, profile),
        "ds_cls_resnet_more": lambda: check_cls_resnet_more(df, evidence, profile),
        "ds_seg_vgg_no_overfit": lambda: check_vgg_no_overfit(r, profile),
        "ds_seg_resnet_overfit": lambda: check_resnet_overfit(r, profile),
        "ds_table1_ds_beats_fs": lambda: check_table(r, profile, 0),
        "ds_table2_ds_beats_fs": lambda: check_table(r, profile, 1),
        "ds_fig7_no_overfit": lambda: check_fig7(r, profile),
        "ds_fig8_scale_ratio": lambda: check_fig8(r, profile),
        "ds_table3_at_targets": lambda: check_at(r, profile),
        "ds_table4_multiscale": lambda: check_multiscale(r, profile),
        "ds_table4_fs_scale_gap": lambda: check_fs_scale_gap(r, profile),
    }
    rows = []
    for cid in CLAIM_IDS:
        claim = claim_of(cid)
        try:
            judged = checks[cid]()
        except MissingEvidence as err:
            rows += claim_rows(claim, not_testable=f"not measured in this run ({profile.name} settings): {_text(err)}",
                               study=NAME)
            continue
        rows += _rows(claim, judged)
    return table(rows)
