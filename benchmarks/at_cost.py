"""Cost and effect of adversarial fine-tuning at embedded scale (``shapes``, 96 px, width 16).

Two parts:

1. ``--cost-steps N``: CPU seconds per training step (batch 16) of a clean step and of each
   training attack (``pgd``, ``segpgd``, ``cospgd``, ``rp_pgd`` at T = 3, plus ``--steps7`` for T = 7),
   timed over N steps of the real training loop; scaled to one epoch of ``train_length`` images,
   with the ratio to a clean epoch.
2. ``--finetune METHOD ...``: fine-tunes the cached clean model (trained first through
   ``get_model`` if missing) with :func:`segrepro.train.adversarial.at_config` and the recipe
   (``--epochs``, ``--lr``, ``--at-train-length``), then evaluates clean and PGD-20 (eps 0.03)
   mIoU on ``--n-images`` validation images for the clean and the AT models, plus the
   retention (AT clean / clean clean) and the robustness gain (AT PGD-20 - clean PGD-20).

CPU seconds (``time.process_time``) with one thread are what a run takes on an idle core; on a
shared machine wall time is larger. Results go to ``results_dir("benchmarks")``.

Usage::

    .venv/bin/python benchmarks/at_cost.py --cost-steps 6
    .venv/bin/python benchmarks/at_cost.py --finetune pgd --epochs 1 --lr 1e-3
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import pandas as pd
import torch
from tqdm.auto import tqdm

from segrepro.models import build
from segrepro.paths import results_dir
from segrepro.run.battery import EvalAttack, robustness_table
from segrepro.train import TrainConfig, get_model, model_path
from segrepro.train import core
from segrepro.train.adversarial import at_config, at_name


def clean_config(model: str, preset: str) -> TrainConfig:
    """The embedded profile's clean config (``run.profiles``: 6 epochs x 1500 images, 96 px)."""
    return TrainConfig(model=model, preset=preset, size=96, epochs=6, train_length=1500, width=16)


def step_cost(base: TrainConfig, methods: list[tuple[str | None, int]], n_steps: int) -> pd.DataFrame:
    """CPU and wall seconds per training step of ``core._run_epoch`` (clean and AT), on ``n_steps`` steps."""
    small = dataclasses.replace(base, train_length=n_steps * base.batch_size)
    data = core.load_split(small, "train")
    warm = core.load_split(dataclasses.replace(base, train_length=base.batch_size), "train")
    rows = []
    for method, steps in methods:
        cfg = dataclasses.replace(small, at_method=method, at_steps=steps)
        torch.manual_seed(0)
        model = build(cfg.model, data.num_classes, cfg.width)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
        with tqdm(disable=True) as bar:
            core._run_epoch(model, opt, sched, warm, cfg, 0, torch.device("cpu"), bar)  # warm-up: one step
            c0, w0 = time.process_time(), time.perf_counter()
            core._run_epoch(model, opt, sched, data, cfg, 1, torch.device("cpu"), bar)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        name = at_name(cfg)
        rows.append({"model": base.model, "training": name, "cpu_s_per_step": cpu / n_steps,
                     "wall_s_per_step": wall / n_steps})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    epoch_steps = base.train_length // base.batch_size
    table["cpu_s_per_epoch"] = table["cpu_s_per_step"] * epoch_steps
    table["ratio_to_clean"] = table["cpu_s_per_step"] / table.loc[table["training"] == "Standard", "cpu_s_per_step"].iloc[0]
    return table


def finetune(base: TrainConfig, methods: list[str], steps: int, recipe: dict, n_images: int) -> pd.DataFrame:
    """Fine-tune each AT variant, then clean and PGD-20 mIoU (%) of clean and AT models."""
    clean = get_model(base, device="cpu", progress=False)
    models, costs = {"clean": clean}, {}
    for method in methods:
        cfg = at_config(base, method, steps=steps, **recipe)
        cached = model_path(cfg).is_file()
        c0, w0 = time.process_time(), time.perf_counter()
        model = get_model(cfg, device="cpu", progress=False)
        name = at_name(cfg)
        hist = model.checkpoint_meta.get("history", [])
        costs[name] = {"key": cfg.key(), "cached": cached, "run_cpu_s": time.process_time() - c0,
                       "run_wall_s": time.perf_counter() - w0,
                       "epoch_cpu_s": sum(h.get("cpu_seconds", float("nan")) for h in hist) / max(len(hist), 1),
                       "epoch_wall_s": sum(h["seconds"] for h in hist) / max(len(hist), 1),
                       "val_miou_300": model.checkpoint_meta.get("val_miou")}
        models[name] = model
        print(name, costs[name], flush=True)
    x, y = core.load_split(base, "val").tensors(list(range(n_images)))
    table = robustness_table(models, x, y, [EvalAttack("Clean", None), EvalAttack("PGD", "pgd", (20,))])
    wide = table.pivot(index="model", columns="attack", values="miou") * 100
    wide["retention_%"] = 100 * wide["Clean"] / wide.loc["clean", "Clean"]
    wide["pgd20_gain_pts"] = wide["PGD"] - wide.loc["clean", "PGD"]
    wide = wide.join(pd.DataFrame(costs).T)
    wide["recipe"] = str(recipe)
    return wide


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="psp_r18")
    parser.add_argument("--preset", default="shapes")
    parser.add_argument("--cost-steps", type=int, default=0, help="time this many training steps per attack")
    parser.add_argument("--steps7", action="store_true", help="also time the 7-step training attacks")
    parser.add_argument("--methods", nargs="*", default=["pgd", "segpgd", "cospgd", "rp_pgd"],
                        help="training attacks to time")
    parser.add_argument("--finetune", nargs="*", default=[], help="training attacks to fine-tune with")
    parser.add_argument("--at-steps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--at-train-length", type=int, default=None)
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    base = clean_config(args.model, args.preset)
    out = results_dir("benchmarks")
    if args.cost_steps:
        attacks = args.methods
        plan = [(None, 3)] + [(m, 3) for m in attacks] + ([(m, 7) for m in attacks] if args.steps7 else [])
        table = step_cost(base, plan, args.cost_steps)
        table.to_csv(out / f"at_step_cost_{args.model}{args.tag}.csv", index=False)
        print(table.to_string(index=False, float_format="%.3f"))
    if args.finetune:
        recipe = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr),
                                    ("train_length", args.at_train_length)) if v is not None}
        table = finetune(base, args.finetune, args.at_steps, recipe, args.n_images)
        table.to_csv(out / f"at_finetune_{args.model}{args.tag}.csv")
        print(table.to_string(float_format="%.2f"))


if __name__ == "__main__":
    main()
