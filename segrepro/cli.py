"""The ``segrepro`` command: ``segrepro run`` (train the zoo, run the studies' grids) and ``segrepro book``.

Examples::

    segrepro run --profile embedded                       # everything, resumable
    segrepro run --profile smoke --only setup dynamic_scaling --set steps=6 --set eps=0.03,0.06
    segrepro book --profile embedded                      # papermill every notebook, build the book
    segrepro profiles embedded                            # show a profile's fields
    torchrun --nproc_per_node 2 -m segrepro.cli run --profile smoke   # cells sharded across ranks

Errors are one line on stderr: a bad argument, profile field or study name exits with status 2 (with
the usage line) before any model is prepared, since every selected study's grids are built from the
profile first (:func:`check_grids`); a failure while running (a missing dataset or checkpoint, CUDA
absent, a damaged result table, a failed notebook) exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Sequence

import segrepro
from segrepro.studies import STUDIES

#: Notebooks of the book, in order (``notebooks/<name>.ipynb``): one per study of ``segrepro.studies.STUDIES``.
NOTEBOOKS = tuple(s.notebook for s in STUDIES)

# The help is plain text (the module docstring is reST for the API docs).
_DESCRIPTION = ("Reproduce transfer-based adversarial attacks on semantic segmentation:\n"
                "train the model zoo, run the studies' grids (resumable) and build the Jupyter Book.")
_EXAMPLES = """examples:
  segrepro run --profile embedded                  everything, resumable
  segrepro run --profile smoke --only setup dynamic_scaling --set steps=6 --set eps=0.03,0.06
  segrepro book --profile embedded                 run every notebook with papermill, build the book
  segrepro profiles embedded                       show a profile's fields
  torchrun --nproc_per_node 2 -m segrepro.cli run --profile smoke    cells sharded across ranks
"""


def build_parser() -> argparse.ArgumentParser:
    from segrepro.run.profiles import available

    study_names, profiles = ", ".join(s.name for s in STUDIES), ", ".join(available())
    parser = argparse.ArgumentParser(prog="segrepro", description=_DESCRIPTION, epilog=_EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"segrepro {segrepro.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", default="embedded", help=f"{profiles} (default: embedded)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a profile field, e.g. --set steps=50 --set eps=0.03,0.06 (repeatable; "
                            "'segrepro profiles NAME' lists the fields)")
        p.add_argument("--no-progress", action="store_true", help="no tqdm bars")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".", epilog=_EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    run = command("run", "train the zoo and run the studies' grids (resumable)")
    common(run)
    run.add_argument("--only", nargs="+", metavar="STUDY",
                     help=f"run only these studies (default: all, in this order): {study_names}")
    book = command("book", "execute the notebooks with papermill and build the Jupyter Book "
                           "(from the repository root)")
    common(book)
    book.add_argument("--notebooks", default="notebooks", help="folder of the source notebooks (default: notebooks)")
    book.add_argument("--book-dir", default="book", help="folder of _toc.yml and the prose pages (default: book)")
    book.add_argument("--config", default="_config.yml", help="the book's _config.yml (default: _config.yml)")
    book.add_argument("--no-build", action="store_true", help="execute the notebooks, skip jupyter-book build")
    train = command("train", "rebuild the released embedded models, or adversarially fine-tune a checkpoint")
    mode = train.add_mutually_exclusive_group(required=True)
    mode.add_argument("--release", action="store_true",
                      help="retrain the released models from scratch and rewrite their manifest")
    mode.add_argument("--at", metavar="SPEC", help="adversarially fine-tune this model spec (zoo:/tv:/mmseg:) "
                      "on the profile's dataset, e.g. tv:deeplabv3_resnet50=dlv3.pth")
    train.add_argument("--attack", default="PGD", help="training attack for --at: PGD, SegPGD, CosPGD or RP-PGD")
    train.add_argument("--steps", type=int, default=3, help="training attack iterations for --at (3 or 7)")
    train.add_argument("--epochs", type=int, default=1, help="passes over the train split for --at")
    train.add_argument("--max-images", type=int, default=None, help="use only the first N training images (--at)")
    train.add_argument("--batch-size", type=int, default=8, help="images per AT step for --at (half adversarial)")
    train.add_argument("--out", help="output weights file for --at (same format as the input spec)")
    train.add_argument("--profile", default="paper", help="profile giving the dataset for --at (default: paper)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                       help="profile overrides for --at, e.g. --set data_root=/data/VOC")
    train.add_argument("--only", nargs="+", metavar="NAME", help="only these releases, e.g. psp_r18/shapes")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:K (default: CUDA when available)")
    train.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    plan = command("plan", "what a run will cost: cells, images, passes, memory, time estimate")
    common(plan)
    plan.add_argument("--only", nargs="+", metavar="STUDY", help=f"plan only these studies (default: all): {study_names}")
    plan.add_argument("--no-calibrate", action="store_true",
                      help="count only; skip the timed attack iterations that give the time estimate")
    plan.add_argument("--all-cells", action="store_true", help="count stored cells too (default: what is left)")
    prof = command("profiles", "list the profiles, or show one's fields")
    prof.add_argument("name", nargs="?", help=f"{profiles} (default: list them)")
    prof.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                      help="override a profile field, as for run")
    return parser


def resolve_profile(name: str, overrides: Sequence[str]):
    """The profile named on the command line with its ``--set`` overrides applied.

    Raises:
        ValueError: Unknown profile, malformed or unknown override, or a value the profile rejects
            (the message names the field).
    """
    from segrepro.run.profiles import get_profile, parse_override

    base = get_profile(name)
    values = dict(parse_override(text, base) for text in overrides)
    return base.with_overrides(**values), values


def select_studies(only: Sequence[str] | None) -> list[str]:
    """The study names to run (all by default), in the order given, each once.

    Raises:
        ValueError: Unknown study names (the message lists the valid ones).
    """
    from segrepro.studies import names

    chosen = list(dict.fromkeys(only or names()))
    unknown = [n for n in chosen if n not in names()]
    if unknown:
        quoted = ", ".join(repr(n) for n in unknown)
        raise ValueError(f"unknown study {quoted}; valid studies: {', '.join(names())}")
    return chosen


def check_grids(profile, only: Sequence[str], models: bool = True) -> None:
    """Check, in seconds, what would otherwise fail only after the whole zoo is prepared: that the zoo can
    provide every model (``segrepro.run.profiles.check_models``) and that every selected study's grids
    build from the profile.

    Raises:
        ValueError: A model the zoo cannot provide, or a study whose grids cannot be built (names it and
            the problem).
    """
    from segrepro.run.profiles import check_models
    from segrepro.studies import get_study

    if models:  # a plan that only counts cells needs no model
        check_models(profile)
    for name in only:
        try:
            get_study(name).grids(profile)
        except (ValueError, TypeError) as err:
            raise ValueError(f"study {name!r} cannot build its grids from profile {profile.name!r}: {err}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # arguments, profile and grids: status 2 with the usage line, before any work
        if args.command == "profiles":
            return _profiles(args)
        if args.command != "train":
            profile, overrides = resolve_profile(args.profile, args.overrides)
            only = select_studies(args.only if args.command in ("run", "plan") else None)
            check_grids(profile, only, models=not (args.command == "plan" and args.no_calibrate))
    except ValueError as err:
        parser.error(str(err))  # exits with status 2 and the usage line
    try:  # the work itself: status 1 with one line
        if args.command == "train":
            return _train_release(args)
        if args.command == "plan":
            return _plan(profile, args, only)
        if args.command == "run":
            return run(profile, only, progress=not args.no_progress)
        from segrepro.book.build import build_book

        index = build_book(profile, NOTEBOOKS, overrides=overrides, notebooks=args.notebooks,
                           book_dir=args.book_dir, config=args.config, build=not args.no_build)
        if index is not None:
            print(index)
        return 0
    except (ValueError, OSError, RuntimeError) as err:  # missing data or checkpoint, CUDA absent, damaged table
        print(f"segrepro: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("segrepro: interrupted; rerun the same command to resume (finished cells are kept)", file=sys.stderr)
        return 130


def _train_release(args) -> int:
    """Retrain the released models (table of clean mIoU, PGD-20 mIoU, seconds), or AT-fine-tune one spec."""
    import pandas as pd

    if args.at:
        return _finetune(args)

    from segrepro.train.release import rebuild

    rows = rebuild(only=args.only, device=args.device, progress=not args.no_progress)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _finetune(args) -> int:
    """``segrepro train --at SPEC``: AT fine-tune on the profile's first dataset; prints the new spec."""
    from segrepro.data import get_dataset
    from segrepro.models.sources import REAL_DATASETS, num_classes
    from segrepro.train.finetune import FinetuneConfig, finetune

    if not args.out:
        raise ValueError("--at needs --out FILE (where the fine-tuned weights go)")
    profile, _ = resolve_profile(args.profile, args.overrides)
    preset = profile.presets[0]
    kw = {"root": profile.data_root} if preset in REAL_DATASETS else {}
    dataset = get_dataset(preset, "train", size=profile.image_size, **kw)
    config = FinetuneConfig(attack=args.attack, steps=args.steps, epochs=args.epochs, max_images=args.max_images,
                            batch_size=args.batch_size)
    spec = finetune(args.at, dataset, num_classes(preset), args.out, config, device=args.device,
                    progress=not args.no_progress)
    print(spec)
    return 0


def _plan(profile, args, only) -> int:
    """Print the cost table of a run (``segrepro plan``); the time estimate comes from a short calibration."""
    import torch

    from segrepro.run import plan
    from segrepro.run.grid import GridSpec
    from segrepro.run.runner import results_path
    from segrepro.run.store import ResultStore
    from segrepro.run.zoo import Zoo
    from segrepro.studies import get_study

    studies = [get_study(n) for n in only]
    zoo = None if args.no_calibrate else Zoo(profile, progress=not args.no_progress)
    costs, sizes = [], {}
    for study in studies:
        store = ResultStore(results_path(profile, study.name))
        done = None if args.all_cells else store.has_cell
        for spec in study.grids(profile):
            if isinstance(spec, GridSpec):
                costs.append(plan.count(study.name, spec, done))
                sizes[spec.preset] = spec
    timing = None
    if not args.no_calibrate and costs:
        timing = {}
        for preset, spec in sizes.items():
            x = zoo.data(preset, 1)[0]
            names_needed = sorted({m for c in costs if c.preset == preset for m in (*c.sources, *c.targets)})
            models = {m: zoo.model(preset, m) for m in names_needed}
            timing.update(plan.calibrate(models, tuple(x.shape[-2:]), profile.batch_size, zoo.device,
                                         next(iter(models.values())).num_classes))
    table = plan.table(costs, timing)
    if timing is None and len(table):
        table = table.drop(columns="minutes")
    device = ("no device" if zoo is None else torch.cuda.get_device_name(0) if zoo.device.type == "cuda"
              else f"CPU, {torch.get_num_threads()} threads")
    print(f"segrepro plan --profile {profile.name}: {'cells still to compute' if not args.all_cells else 'all cells'}"
          + (f" (time estimate calibrated on {device})" if timing is not None else
             " (counts only: run without --no-calibrate on the target machine for a time estimate)"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}") if len(table) else "nothing to compute")
    if len(table):
        spec = next(iter(sizes.values()))
        h = w = profile.image_size or 96
        peak = plan.peak_bytes(profile.batch_size, (h, w), len(spec.snapshots))
        print(f"total: {table['cells'].sum()} cells, {table['images'].sum()} attacked images, "
              f"{table['fwd+bwd (k)'].sum() / 1e3:.3f} M forward+backward and {table['fwd (k)'].sum() / 1e3:.3f} M forward passes"
              + (f", about {table['minutes'].sum() / 60:.1f} h on this device" if timing else ""))
        print(f"peak memory of the images a streaming cell holds: {peak / 2**20:.0f} MiB per batch of "
              f"{profile.batch_size} (independent of n_images; model activations come on top)")
    return 0


def _profiles(args) -> int:
    from segrepro.run.profiles import available

    if not args.name:
        print("\n".join(available()))
        return 0
    profile, _ = resolve_profile(args.name, args.overrides)
    print(json.dumps(profile.to_dict(), indent=2))
    return 0


def run(profile, only: Sequence[str], progress: bool = True) -> int:
    """Prepare the zoo, run each study, print a summary and write ``timings.csv``."""
    import pandas as pd

    from segrepro.paths import results_dir
    from segrepro.run import distributed
    from segrepro.run.grid import GridReport
    from segrepro.run.runner import prepare
    from segrepro.studies import run_study

    check_grids(profile, only)  # before prepare: a bad value fails in seconds, not after the zoo is trained
    ctx = distributed.DistContext.from_env()
    timings, t_all = [], time.perf_counter()
    t0 = time.perf_counter()
    if ctx.rank != 0:  # rank 0 trains first; the others then load the cached checkpoints
        distributed.barrier(ctx)
    zoo = prepare(profile, device=ctx.device if ctx.world_size > 1 else None, progress=progress)
    if ctx.rank == 0 and ctx.world_size > 1:
        distributed.barrier(ctx)
    timings.append(dict(stage="prepare", seconds=time.perf_counter() - t0, computed=sum(len(zoo.names_for(p)) for p in profile.presets),
                        skipped=0, rows=0))
    for name in only:
        t0 = time.perf_counter()
        report = GridReport()
        run_study(profile, name, zoo=zoo, progress=progress, report=report)
        timings.append(dict(stage=name, seconds=time.perf_counter() - t0, computed=report.computed,
                            skipped=report.skipped, rows=report.rows))
    timings.append(dict(stage="total", seconds=time.perf_counter() - t_all,
                        computed=sum(t["computed"] for t in timings[1:]),
                        skipped=sum(t["skipped"] for t in timings[1:]), rows=sum(t["rows"] for t in timings[1:])))
    table = pd.DataFrame(timings)
    if ctx.rank == 0:
        from segrepro.paths import atomic_write_bytes

        atomic_write_bytes(results_dir(profile.name) / "timings.csv", table.to_csv(index=False).encode())
        print(f"\nsegrepro run --profile {profile.name}: cells computed/skipped per stage "
              f"(results in {results_dir(profile.name)})")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        from segrepro.report.verdicts import counts
        from segrepro.studies import write_claims

        path = write_claims(profile)
        claims = pd.read_csv(path)
        if len(claims):
            print(f"\nclaims per paper and outcome ({path}):")
            print(counts(claims).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
