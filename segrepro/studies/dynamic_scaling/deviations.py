"""Where our Dynamic Scaling study (notebook ``01_dynamic_scaling``) departs from the paper.

Gu, Zhao, Tresp and Torr, arXiv 2111.11368. Each row of :data:`DEVIATIONS` names what differs (``topic``),
what the paper does (``paper``), what we do (``ours``), why (``why``) and where the book explains it:
``section``, a heading of ``book/methods.md``, or of ``page`` when another page says more. The notebook
shows them with ``segrepro.report.present.deviations_table``.
"""
from __future__ import annotations

DEVIATIONS: tuple[dict, ...] = (
    {"topic": "data",
     "paper": "PASCAL VOC 2012 (Table 1) and Cityscapes (Table 2)",
     "ours": "the synthetic presets shapes (for VOC) and street (for Cityscapes)",
     "why": "no dataset can be downloaded where the book is built; every image is generated from its index",
     "page": "scale", "section": "Data: synthetic presets"},
    {"topic": "models",
     "paper": "ImageNet-pretrained FCN8s-VGG16, PSPNet-Res50 and DeepLabV3-Res50 at full width",
     "ours": "the same families at a quarter of the width, on ResNet-18, trained from scratch on small images",
     "why": "the zoo has to train in minutes on a CPU",
     "page": "scale", "section": "Models: reduced width, same families"},
    {"topic": "iterations",
     "paper": "1,000 iterations (Tables 1-2), 10,000 for the long FCN8s-VGG16 run (Fig. 4)",
     "ours": "tens of iterations (the default run: 20, and 50 for the long run)",
     "why": "a claim about the long-run shape of a curve is checked only over the iterations we ran",
     "page": "scale", "section": "Attacks: two budgets, fewer iterations"},
    {"topic": "budget",
     "paper": "ε = 0.03",
     "ours": "ε = 0.03 for every verdict, plus 0.06 from the VGG and PSP sources as a second reading",
     "why": "synthetic classes have wide margins, so 0.03 is a weaker attack than on real models; "
            "the second budget is evidence in a claim's why, never its verdict",
     "page": "scale", "section": "Attacks: two budgets, fewer iterations"},
    {"topic": "scaled size",
     "paper": "image and label resized to round(sH) x round(sW)",
     "ours": "the same, with the scaled side floored at 32 pixels",
     "why": "keeps every model's feature maps valid on small images; binds only for large ratios (Fig. 8)",
     "section": "Dynamic Scaling (DS)"},
    {"topic": "scale ratios (Fig. 8)",
     "paper": "λ in {0, 0.1, 0.3, 0.5, 0.7, 0.9}",
     "ours": "the ratios of this run (the default run leaves out 0.3)",
     "why": "time; the claim's parts use 0, 0.1, 0.5 and the ratios beyond 0.5",
     "section": "Dynamic Scaling (DS)"},
    {"topic": "classifiers (Sec. 4)",
     "paper": "ImageNet classifiers",
     "ours": "VGG16-BN and ResNet-18 classifiers trained on a classification variant of shapes "
             "(label: the dominant object class)",
     "why": "no ImageNet; the attack is the same BIM, through a wrapper that broadcasts the class logits to every pixel",
     "page": "scale", "section": "Data: synthetic presets"},
    {"topic": "adversarially trained targets (Table 3)",
     "paper": "adversarially trained PSPNet and DeepLabV3 models",
     "ours": "PGD3-AT models fine-tuned from the clean ones for a short schedule (3 epochs in the default run)",
     "why": "a full adversarial training does not fit the budget",
     "section": "Adversarial training"},
    {"topic": "the paper's numbers",
     "paper": "Tables 1-4",
     "ours": "cells lost in the text extraction (Tables 1-3) are assigned left to right, with a note",
     "why": "only the extracted text of the paper was available to us",
     "page": "limitations", "section": "What we could read of the papers"},
)
