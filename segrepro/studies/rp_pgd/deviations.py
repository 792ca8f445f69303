"""Where our RP-PGD study (notebook ``04_rp_pgd``) departs from the paper.

Zhang et al., AAAI 2025. Each row of :data:`DEVIATIONS` names what differs (``topic``), what the paper
does (``paper``), what we do (``ours``), why (``why``) and where the book explains it: ``section``, a
heading of ``book/methods.md``, or of ``page`` when another page says more. The notebook shows them
with ``segrepro.report.present.deviations_table``.
"""
from __future__ import annotations

DEVIATIONS: tuple[dict, ...] = (
    {"topic": "prototype term",
     "paper": "L_RP = 0.75 L_R + 0.25 L_P; the released code detaches the features, so L_P has no gradient",
     "ours": "the released code's reading by default; keeping the gradient is an ablation and the reading of "
             "the two claims about the prototype term (Table 1, full against the rest; Table 3)",
     "why": "the paper's numbers were measured with the released code",
     "section": "RP-PGD"},
    {"topic": "prototype resolution",
     "paper": "not stated",
     "ours": "label and True-region mask resized (nearest) to the feature resolution",
     "section": "RP-PGD"},
    {"topic": "iterations",
     "paper": "100 (Fig. 2, Tables 1-3 and 6)",
     "ours": "the default run: 10 for Fig. 2 and Table 6, PGD up to 20, 5 for the ablations (on the clean model only)",
     "why": "to fit the CPU budget",
     "page": "scale", "section": "Attacks: two budgets, fewer iterations"},
    {"topic": "iterations in Fig. 2",
     "paper": "not stated whether each point is its own run",
     "ours": "snapshots of one run (SegPGD and RP-PGD schedule their weights over that run's length)",
     "section": "RP-PGD"},
    {"topic": "data and models",
     "paper": "PSPNet-Res50 and DeepLabv3-Res50 on PASCAL VOC",
     "ours": "psp_r18 and dlv3_r18 on the synthetic shapes preset",
     "why": "only the ordering of methods is comparable, not the values",
     "page": "scale", "section": "Models: reduced width, same families"},
    {"topic": "adversarial training",
     "paper": "full training in the DDC-AT setting",
     "ours": "fine-tuned from the clean model for a short schedule (3 epochs in the default run), "
             "half clean, half adversarial batches; one trained model per strategy",
     "why": "gaps between strategies smaller than the spread between trainings are not decisive",
     "section": "Adversarial training"},
    {"topic": "evaluation battery (Tables 4-5)",
     "paper": "PGD, CW, DeepFool and L2 BIM, settings in an appendix we lack",
     "ours": "PGD, a CW-margin attack without random start, L2 BIM with our budget; no DeepFool",
     "why": "DeepFool does not fit the attack loop",
     "page": "limitations", "section": "What our scale cannot show"},
    {"topic": "black-box transfer (Table 6)",
     "paper": "surrogate: a PGD3-AT PSPNet; targets: DeepLabv3 models, one per AT strategy",
     "ours": "roles swapped: surrogate a PGD3-AT DeepLabV3; targets psp_r18 and its AT models",
     "why": "every AT strategy is trained for one architecture (psp_r18)",
     "section": "RP-PGD"},
)
