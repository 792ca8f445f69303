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


#: The benchmark each synthetic preset stands in for.
STANDS_FOR = {"shapes": "PASCAL VOC", "street": "Cityscapes"}


def preset_view(profile, preset: str, n_samples: int) -> dict:
    """What the setup chapter shows of one synthetic preset: a heading, the first ``n_samples`` validation
    images above their label maps (figure, caption, alt text) and each class's share of the valid pixels."""
    import numpy as np
    import pandas as pd

    from segrepro.data.synthetic import render_grid
    from segrepro.run.zoo import train_config
    from segrepro.train.core import load_split

    ds = load_split(train_config(profile, preset, profile.models[0]), "val")
    n = min(n_samples, len(ds))
    shares = np.bincount(ds.labels.ravel(), minlength=256)[:ds.num_classes] / max(int((ds.labels != 255).sum()), 1)
    return {
        "heading": f"### `{preset}`: {len(ds)} validation images of {ds.size[0]}x{ds.size[1]} px, {ds.num_classes} classes",
        "figure": render_grid(ds, n=n),
        "caption": (f"The first {n} validation images of the synthetic preset `{preset}` (our stand-in for "
                    f"{STANDS_FOR.get(preset, 'a benchmark')}), each above its label map. Colours are the classes of "
                    "the legend; grey pixels are ignored by the loss and the metrics (label 255)."),
        "alt": (f"A grid of {n} small synthetic {preset} images, each above its colour-coded label map, "
                f"with a legend of the {ds.num_classes} classes."),
        "shares": pd.DataFrame({"class": ds.class_names, "share of valid pixels (%)": 100 * shares}),
        "shares_caption": f"{preset}: each class's share of the valid pixels of the validation split",
    }


def zoo_tables(df):
    """Clean mIoU (%) and training seconds of every model per preset (rows: model, columns: preset), and
    the numbers the chapter's prose cites (Python floats): ``clean_min``/``max``, ``standard_min``/``max``
    (without the adversarially trained models) and ``train_minutes``."""
    from segrepro.report.tables import select

    miou = select(df, metric="miou").pivot_table(index="target", columns="preset", values="value") * 100
    seconds = select(df, metric="train_seconds").pivot_table(index="target", columns="preset", values="value")
    standard = miou.loc[[t for t in miou.index if "@" not in t]]
    numbers = {"clean_min": miou.min().min(), "clean_max": miou.max().max(), "standard_min": standard.min().min(),
               "standard_max": standard.max().max(), "train_minutes": seconds.sum().sum() / 60}
    for t in (miou, seconds):
        t.index.name, t.columns.name = "model", "preset"
    return miou, seconds, {k: float(v) for k, v in numbers.items()}


def settings_table(profile):
    """The main settings of a run in the reader's words (the setup chapter's first table)."""
    import pandas as pd

    from segrepro.run.zoo import train_config

    clean = train_config(profile, profile.presets[0], profile.models[0]) if profile.models else None
    at = train_config(profile, profile.presets[0], profile.at_models[0]) if profile.at_models else None

    def epochs(cfg) -> str:
        return "none" if cfg is None else f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} of {cfg.train_length} images"

    rows = [("run", profile.name), ("datasets (synthetic presets)", ", ".join(profile.presets)),
            ("image size", f"{profile.image_size} x {profile.image_size} px"),
            ("segmentation models", ", ".join(profile.models) or "none"),
            ("adversarially trained models", ", ".join(profile.at_models) or "none"),
            ("model width (channels of the first layer; torchvision: 64)", clean.width if clean else "-"),
            ("training", epochs(clean)), ("adversarial fine-tuning", epochs(at)),
            ("evaluation images per preset", profile.n_images),
            ("attack budgets (epsilon)", ", ".join(f"{e:g}" for e in profile.eps)),
            ("attack step (alpha)", f"{profile.alpha:g}"), ("attack iterations", profile.steps),
            ("attack seeds", len(profile.seeds))]
    return pd.DataFrame(rows, columns=["setting", "this run"])


def all_settings_table(profile):
    """Every field of the run's profile with its value (lists and mappings as JSON)."""
    import pandas as pd

    fields = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in profile.to_dict().items()}
    return pd.DataFrame({"setting": list(fields), "value": list(fields.values())})


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
