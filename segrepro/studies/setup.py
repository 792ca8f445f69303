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


def released_models():
    """The released embedded models (``segrepro/weights/manifest.json``) as a table for the setup chapter.

    Columns: model, preset, clean mIoU (%) on the preset's first 512 validation images, white-box
    PGD-20 mIoU (%, eps 0.03, 256 images; AT models and the clean models they start from), size (MB),
    training seconds and hardware. Empty when nothing is released.
    """
    import pandas as pd

    from segrepro.models import release

    rows = []
    for name, e in release.read_manifest().items():
        clean = e.get("clean_miou_512", e.get("val_accuracy_512"))
        rows.append({"model": name.split("/")[0], "preset": e["preset"],
                     "clean (%)": None if clean is None else 100 * clean,
                     "metric": "accuracy" if "val_accuracy_512" in e else "mIoU",
                     "PGD-20 mIoU (%)": None if e.get("pgd20_miou_256") is None else 100 * e["pgd20_miou_256"],
                     "size (MB)": e["bytes"] / 1e6, "training (s)": e["train_seconds"], "stored as": e["dtype"],
                     "trained on": e["hardware"]})
    return pd.DataFrame(rows)


STUDY = Study(name="setup", title="Data and the trained zoo: clean mIoU", extra=clean_rows,
              notebook="00_setup")
