"""Train the six zoo models on a preset with the embedded recipe; print train time and val mIoU.

Usage::

    .venv/bin/python benchmarks/train_zoo.py                # shapes, default recipe, 1 thread
    .venv/bin/python benchmarks/train_zoo.py --models psp_r18 --epochs 2 --train-length 256

``train_s`` is wall time, ``cpu_s`` the process CPU time (with one thread, the wall time the run would
take on an idle core; on a shared machine the two differ). Checkpoints go to the normal cache (``SEGREPRO_CACHE``), so models trained here are reused by the
study; a cached model reports the training time recorded when it was trained.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from segrepro.models import available
from segrepro.train import TrainConfig, get_model, model_path


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="shapes")
    parser.add_argument("--models", nargs="*", default=available())
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-length", type=int, default=2000)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = []
    for name in args.models:
        config = TrainConfig(name, args.preset, width=args.width, epochs=args.epochs,
                             train_length=args.train_length, seed=args.seed)
        cached = model_path(config).is_file()
        t0 = time.perf_counter()
        model = get_model(config, device="cpu", progress=not args.no_progress)
        meta = model.checkpoint_meta
        rows.append({"model": name, "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
                     "train_s": meta["train_seconds"],
                     "cpu_s": meta.get("train_cpu_seconds", float("nan")), "val_miou_%": 100 * meta["val_miou"],
                     "best_epoch_miou_%": 100 * max(h["val_miou"] for h in meta["history"]),
                     "cached": cached, "wall_s": time.perf_counter() - t0, "key": config.key()})
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format="%.1f"), flush=True)
    table = pd.DataFrame(rows)
    print(f"\n{args.preset}: {args.epochs} epochs x {args.train_length} images, width {args.width}, "
          f"seed {args.seed}, {args.threads} thread(s)")
    print(table.to_string(index=False, float_format="%.1f"))
    return table


if __name__ == "__main__":
    main()
