"""Where our SegTrans study (notebook ``03_segtrans``) departs from the paper.

Song et al., arXiv 2510.08922, of which we have only the abstract: the method and the reading of each
claim are ours. Each row of :data:`DEVIATIONS` names what differs (``topic``), what the paper says
(``paper``), what we do (``ours``), why (``why``) and where the book explains it: ``section``, a heading
of ``book/methods.md``, or of ``page`` when another page says more. The notebook shows them with
``segrepro.report.present.deviations_table``.
"""
from __future__ import annotations

DEVIATIONS: tuple[dict, ...] = (
    {"topic": "what we could read",
     "paper": "the full paper",
     "ours": "the abstract only; every detail of the method is our reading",
     "why": "a verdict here is a verdict on our reading of the method",
     "section": "SegTrans"},
    {"topic": "enhanced samples",
     "paper": "local regions remapped into diverse enhanced samples that replace the original",
     "ours": "one random shuffle of a k x k grid of regions (k drawn from 2, 3, 4) of image and label per iteration",
     "why": "one sample per iteration costs what BIM costs; fixed grid sizes are an ablation",
     "section": "SegTrans"},
    {"topic": "second reading",
     "paper": "-",
     "ours": "one region zoomed to the full input (segtrans_zoom), compared at equal updates per pixel, "
             "never counted as SegTrans",
     "why": "each step updates only one region, so at equal iterations it is starved",
     "section": "SegTrans"},
    {"topic": "transfer success rate",
     "paper": "not defined in the abstract",
     "ours": "pixel-level attack success rate (ASR): clean-correct pixels that the target gets wrong",
     "section": "Metrics"},
    {"topic": "+8.55 % over the state of the art",
     "paper": "baselines and unit not named",
     "ours": "ASR points over the strongest of PGD, DS, TranSegPGD, MI and DI under one start policy",
     "page": "limitations", "section": "What we could read of the papers"},
    {"topic": "no additional overhead",
     "paper": "no extra computation",
     "ours": "wall-clock time within 20 % of BIM's in the same run (our tolerance); passes counted exactly",
     "section": "SegTrans"},
    {"topic": "> 100 % more efficient",
     "paper": "baseline not named",
     "ours": "the same success at half the cost: SegTrans after T/2 iterations against the strongest attack after T",
     "why": "every method here costs one forward and one backward pass per iteration",
     "section": "SegTrans"},
    {"topic": "data, models, iterations",
     "paper": "real benchmarks and full-size models",
     "ours": "the synthetic presets, small models trained from scratch, 20 iterations in the default run",
     "page": "scale", "section": "Attacks: two budgets, fewer iterations"},
)
