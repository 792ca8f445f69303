"""Where our TranSegPGD study (notebook ``02_transegpgd``) departs from the paper.

arXiv 2312.02207, of which we have only a summary: every detail of the attack is our reading. Each row
of :data:`DEVIATIONS` names what differs (``topic``), what the paper says (``paper``), what we do
(``ours``), why (``why``) and where the book explains it: ``section``, a heading of ``book/methods.md``,
or of ``page`` when another page says more. The notebook shows them with
``segrepro.report.present.deviations_table``.
"""
from __future__ import annotations

DEVIATIONS: tuple[dict, ...] = (
    {"topic": "what we could read",
     "paper": "the full paper, with equations, schedules and numbers",
     "ours": "a summary only: no equations, weights, schedules or numbers; every detail below is ours",
     "why": "a verdict here is a verdict on our reading of the method",
     "section": "TranSegPGD"},
    {"topic": "stage 1: which pixels",
     "paper": "the summary favours misclassified pixels, the abstract the still-correct (hard) ones",
     "ours": "still-correct pixels get weight 0.9, the others 0.1 (the abstract's reading)",
     "why": "the other reading is an ablation on this page",
     "section": "TranSegPGD"},
    {"topic": "weights γ and β",
     "paper": "not given",
     "ours": "0.1 for both stages; 0, 0.3 and 0.5 are ablations (0.5 makes a stage plain cross-entropy)",
     "section": "TranSegPGD"},
    {"topic": "stage switch",
     "paper": "not given",
     "ours": "stage 2 from iteration ceil(T/2)+1, or earlier once every pixel is fooled",
     "why": "switching only once every pixel is fooled is an ablation",
     "section": "TranSegPGD"},
    {"topic": "stage 2: transferable pixels",
     "paper": "pixels weighted by the KL divergence between the adversarial and clean predictions",
     "ours": "pixels above their image's mean KL get weight 0.9, the others 0.1",
     "section": "TranSegPGD"},
    {"topic": "random start",
     "paper": "not stated",
     "ours": "one start policy for every method (the default run: no random start, so PGD is BIM)",
     "why": "so that the methods differ only in their objective",
     "section": "Baselines"},
    {"topic": "claims",
     "paper": "state-of-the-art transfer, combines with MI-FGSM (no numbers)",
     "ours": "each claim judged as a difference with threshold 0, on intervals over images",
     "section": "How a claim is judged"},
    {"topic": "data, models, iterations",
     "paper": "real benchmarks and full-size models",
     "ours": "the synthetic presets, small models trained from scratch, 20 iterations in the default run",
     "page": "scale", "section": "Attacks: two budgets, fewer iterations"},
)
