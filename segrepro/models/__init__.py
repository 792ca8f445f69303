"""Segmentation models behind one contract (:class:`~segrepro.models.wrap.SegModel`).

``available()`` / ``build(name, num_classes, width=16)`` give the study's zoo;
``save_checkpoint`` / ``load_checkpoint`` store and restore trained models safely.
"""
from .checkpoint import load_checkpoint, save_checkpoint
from .classifiers import available_classifiers, build_classifier
from .wrap import SegModel
from .zoo import available, build

__all__ = ["SegModel", "available", "available_classifiers", "build", "build_classifier",
           "load_checkpoint", "save_checkpoint"]
