"""Worked example of a study: the data and the trained zoo, with clean mIoU (notebook ``00_setup``).

No attack grid: ``extra`` writes one row per (preset, model, metric) with ``method="clean"``,
``source="-"``, ``iteration=0`` and metrics ``miou``, ``pixel_accuracy``, ``train_seconds``
(seconds the model's training took, from its checkpoint; NaN for loaded checkpoints). Each
(preset, model) is a cell, so a rerun after a kill only evaluates what is missing.
"""
from __future__ import annotations

import hashlib
import json

from segrepro.studies.study import Study


def _cell(profile, preset: str, model: str) -> str:
    payload = dict(preset=preset, model=model, n_images=profile.n_images, train=dict(profile.train),
                   at_train=dict(profile.at_train), image_size=profile.image_size)
    return "setup-" + hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def clean_rows(profile, zoo, store, progress: bool = True) -> None:
    """Evaluate every model of every preset on the profile's evaluation images (resumable)."""
    from segrepro.metrics import evaluate

    for preset in profile.presets:
        images, labels = zoo.data(preset)
        for name in zoo.names_for(preset):
            key = _cell(profile, preset, name)
            if store.has_cell(key):
                continue
            model = zoo.model(preset, name)
            rec = evaluate(model, (images, labels), batch_size=profile.batch_size)
            meta = getattr(model, "checkpoint_meta", {}) or {}
            seconds = meta.get("train_seconds")
            values = {"miou": rec["miou"], "pixel_accuracy": rec["pixel_accuracy"],
                      "train_seconds": float("nan") if seconds is None else float(seconds)}
            store.add([dict(study="setup", preset=preset, grid="clean", cell=key, source="-", target=name,
                            eval_scale="1", method="clean", params="{}", eps=0.0, iteration=0, seed=0,
                            metric=m, value=v) for m, v in values.items()])


STUDY = Study(name="setup", title="Data and the trained zoo: clean mIoU", extra=clean_rows,
              notebook="00_setup")
