"""Cost of every attack method against a bare forward+backward pass of the same model and batch.

For each method: seconds per iteration per image at batch 32 (``steps`` iterations, everything the
call does included: entry checks, clean forwards, random start), the ratio to one bare
forward + CE + input-gradient pass (``torch.autograd.grad`` w.r.t. the images, as the attack does),
and the per-image cost at batch 1 relative to batch 32. On CPU the clock is the process's CPU
time (other processes on a shared machine do not count); methods are timed round-robin and the
median ratio over rounds is printed with its spread. The ``bare (control)`` row times the bare
loop as if it were a method: its ratio shows the noise floor.

    python benchmarks/attack_cost.py                      # shapes preset, psp_r18, batch 32, 96 px
    python benchmarks/attack_cost.py --methods bim ds --threads 2 --device cuda

Targets (issue 4): ratio <= 1.05 for bim, pgd, segpgd, cospgd, transegpgd; <= 1.25 for ds,
segtrans, rp_pgd.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from segrepro.attacks import attack, available, get_method

TARGETS = {"bim": 1.05, "pgd": 1.05, "segpgd": 1.05, "cospgd": 1.05, "transegpgd": 1.05,
           "ds": 1.25, "segtrans": 1.25, "rp_pgd": 1.25}


def load_batch(n: int, size: int, device: torch.device):
    """``n`` images of the ``shapes`` preset at ``size`` px (random images if the data module is missing)."""
    try:
        from segrepro.data import SyntheticSegmentation
        data = SyntheticSegmentation("shapes", "val", size=(size, size), length=n)
        images, labels = data.tensors()
        num_classes = data.num_classes
    except ImportError:
        num_classes = 6
        images, labels = torch.rand(n, 3, size, size), torch.randint(0, num_classes, (n, size, size))
    return images.to(device), labels.to(device), num_classes


def load_model(name: str, num_classes: int, device: torch.device):
    try:
        from segrepro.models import build
        model = build(name, num_classes)
    except ImportError:  # the zoo is not there yet: a small local stand-in
        from torch import nn

        from segrepro.models.wrap import SegModel

        class Local(SegModel):
            def __init__(self):
                super().__init__(num_classes)
                self.body = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
                self.head = nn.Conv2d(64, num_classes, 1)

            def _run(self, x):
                f = self.body(x)
                return self.head(f), f
        model = Local()
    return model.to(device).eval()


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _clock(device) -> float:
    # CPU: process time, so other processes on a shared machine do not count; CUDA: wall time
    return time.perf_counter() if device.type == "cuda" else time.process_time()


def timed(fn, device) -> float:
    _sync(device)
    start = _clock(device)
    fn()
    _sync(device)
    return _clock(device) - start


def bare_pass(model, images, labels):
    x = images.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels, ignore_index=255)
    return torch.autograd.grad(loss, x)[0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="*", default=available() + ["transegpgd+mi", "ds+mi"])
    parser.add_argument("--model", default="psp_r18")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="round-robin repeats; the median ratio is reported")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-batch1", action="store_true", help="skip the batch-1 column")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images, labels, num_classes = load_batch(args.batch, args.size, device)
    model = load_model(args.model, num_classes, device)
    bare_pass(model, images, labels)  # warm-up

    def bare_loop(x=images, y=labels):
        for _ in range(args.steps):
            bare_pass(model, x, y)

    runs = {"bare (control)": bare_loop}
    iterations = {"bare (control)": args.steps}
    for method in args.methods:
        runs[method] = lambda x=images, y=labels, m=method: attack(model, x, y, m, steps=args.steps)
        iterations[method] = 1 if get_method(method).one_step else args.steps  # FGSM: one step
    # Round-robin: each round times the bare loop, then every method; ratios are taken within a
    # round, so a load that drifts between rounds cancels, and the median over rounds is reported.
    ratios = {name: [] for name in runs}
    per_image = {name: [] for name in runs}
    for _ in range(args.rounds):
        bare = timed(bare_loop, device) / args.steps / args.batch
        for name, run in runs.items():
            per = timed(run, device) / iterations[name] / args.batch
            per_image[name].append(per)
            ratios[name].append(per / bare)
    clock = "wall" if device.type == "cuda" else "process CPU"
    print(f"model {args.model}, batch {args.batch}, {args.size} px, {args.steps} steps, {args.threads} thread(s), "
          f"{device}, {clock} time, median of {args.rounds} rounds")
    b1_title = f"b1/b{args.batch}"
    print(f"{'method':16s} {'s/iter/img':>11s} {'ratio':>7s} {'spread':>13s} {'target':>7s} {b1_title:>7s}")
    for name, run in runs.items():
        per, ratio = statistics.median(per_image[name]), statistics.median(ratios[name])
        b1 = float("nan")
        if not args.no_batch1:
            one = min(timed(lambda: run(images[:1], labels[:1]), device) for _ in range(3))
            b1 = one / iterations[name] / per
        target = TARGETS.get(name)
        mark = "" if target is None else ("ok" if ratio <= target else "MISS")
        spread = f"{min(ratios[name]):.2f}-{max(ratios[name]):.2f}"
        print(f"{name:16s} {per:11.5f} {ratio:7.3f} {spread:>13s} {target or '':>7} {b1:7.2f} {mark}", flush=True)

if __name__ == "__main__":
    main()
