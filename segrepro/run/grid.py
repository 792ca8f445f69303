"""The grid runner: sources x methods x eps x seeds -> adversarial examples -> every target.

One **cell** is ``(source, method, params, eps, seed)``: its adversarial examples are made once, with
``snapshots`` (one attack run yields the examples at every requested iteration), and evaluated on
every target (the source itself included: the white-box row) and every evaluation scale. Each finished
cell is appended to a :class:`~segrepro.run.store.ResultStore` atomically; a rerun skips the
stored cells, so a killed run resumes where it stopped.

Under ``torchrun`` the cells are sharded across ranks (each cell stays on one rank, so the table is
identical to a one-process run); every rank writes its own shard file and rank 0 merges them.

Example:
    >>> spec = GridSpec(study="demo", preset="shapes", sources=("psp_r18",),
    ...                 targets=("psp_r18", "fcn8s_vgg16"), methods=("bim", "ds"), steps=10,
    ...                 snapshots=(5, 10), n_images=16)
    >>> report = run_grid(spec, ResultStore("demo.csv"), models, (images, labels))  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from tqdm import tqdm  # not tqdm.auto: it warns in kernels without ipywidgets

from segrepro.metrics import Counts, relative_drop
from segrepro.run import distributed
from segrepro.run import evaluate as ev
from segrepro.run.store import ResultStore

AttackFn = Callable[..., Any]


def canonical_params(params: Mapping[str, Any] | None) -> str:
    """Canonical JSON of a method's parameters (sorted keys, no spaces): the ``params`` column."""
    return json.dumps(dict(params or {}), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class MethodSpec:
    """An attack method of ``segrepro.attacks`` with non-default keyword parameters.

    Attributes:
        name: Method name, e.g. ``"ds"`` or ``"transegpgd+mi"``.
        params: Extra keyword arguments of ``attack`` (e.g. ``{"lam": 0.3}``).
        label: Display name for tables and plots (default: name and params).
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def params_json(self) -> str:
        return canonical_params(self.params)

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        return self.name if not self.params else f"{self.name} {self.params_json}"

    @classmethod
    def coerce(cls, m: "str | tuple | MethodSpec") -> "MethodSpec":
        """Accept ``"ds"``, ``("ds", {"lam": 0.3})`` or a ``MethodSpec``."""
        if isinstance(m, MethodSpec):
            return m
        if isinstance(m, str):
            return cls(m)
        if isinstance(m, tuple) and len(m) in (2, 3) and isinstance(m[0], str) and isinstance(m[1], Mapping):
            return cls(*m)
        raise TypeError(f"a method must be a name, (name, params) or MethodSpec, got {m!r}")


@dataclass(frozen=True)
class GridSpec:
    """One grid of a study.

    Attributes:
        study: Study name (the result file is ``<study>.csv``).
        preset: Dataset / preset the models were trained on and the images come from.
        sources: Models the adversarial examples are made on.
        targets: Models they are evaluated on; each source is added as its own (white-box) target.
        methods: Names, ``(name, params)`` pairs or :class:`MethodSpec` s.
        grid: Name of this grid within the study (e.g. ``"transfer"``, ``"lambda_ablation"``).
        eps: L-inf budgets. alpha: step size. steps: iterations.
        snapshots: Iterations evaluated (default: ``(steps,)``); all ``<= steps``.
        seeds: Attack seeds.
        n_images: Number of evaluation images (the first ``n_images`` of the data given to the runner).
        batch_size: Attack and evaluation batch size.
        eval_scales: Scales at which targets segment the examples: floats (1.0 = native) or ``"ms"``
            (multi-scale, :data:`~segrepro.run.evaluate.MS_SCALES`); DS Table 4.
        save_examples: Keep this many adversarial examples per cell (at the last snapshot) for figures.
    """

    study: str
    preset: str
    sources: Sequence[str]
    targets: Sequence[str]
    methods: Sequence[Any]
    grid: str = "main"
    eps: Sequence[float] = (0.03,)
    alpha: float = 0.01
    steps: int = 10
    snapshots: Sequence[int] | None = None
    seeds: Sequence[int] = (0,)
    n_images: int = 32
    batch_size: int = 16
    eval_scales: Sequence[float | str] = (1.0,)
    save_examples: int = 0

    def __post_init__(self):
        for name in ("sources", "targets", "eps", "seeds", "eval_scales"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "methods", tuple(MethodSpec.coerce(m) for m in self.methods))
        snaps = tuple(sorted({int(t) for t in (self.snapshots or (self.steps,))}))
        object.__setattr__(self, "snapshots", snaps)
        if not self.sources or not self.methods or not self.eps or not self.seeds:
            raise ValueError("a grid needs at least one source, method, eps and seed")
        if self.steps < 1 or snaps[0] < 1 or snaps[-1] > self.steps:
            raise ValueError(f"snapshots must lie in 1..steps={self.steps}, got {snaps}")
        if self.n_images < 1 or self.batch_size < 1:
            raise ValueError("n_images and batch_size must be positive")
        for s in self.eval_scales:
            ev.scale_name(s)  # validates

    @property
    def all_targets(self) -> tuple[str, ...]:
        """Targets plus every source (white-box), in a stable order."""
        return tuple(dict.fromkeys((*self.targets, *self.sources)))

    def cells(self) -> list["Cell"]:
        """Every cell of the grid, in a stable order."""
        return [Cell(self, s, m, float(e), int(seed)) for s in self.sources for m in self.methods
                for e in self.eps for seed in self.seeds]


@dataclass(frozen=True)
class Cell:
    """One attack run: ``(source, method, eps, seed)`` of a :class:`GridSpec`."""

    spec: GridSpec
    source: str
    method: MethodSpec
    eps: float
    seed: int

    @property
    def key(self) -> str:
        """Hash of everything that determines the examples (not the targets: those can be added)."""
        s = self.spec
        payload = dict(preset=s.preset, source=self.source, method=self.method.name,
                       params=self.method.params_json, eps=round(self.eps, 8), seed=self.seed,
                       alpha=round(s.alpha, 8), steps=s.steps, snapshots=list(s.snapshots),
                       n_images=s.n_images, batch_size=s.batch_size)
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]

    def row(self, **kw) -> dict:
        s = self.spec
        base = dict(study=s.study, preset=s.preset, grid=s.grid, cell=self.key, source=self.source,
                    method=self.method.name, params=self.method.params_json, eps=self.eps,
                    seed=self.seed, eval_scale="1")
        base.update(kw)
        return base


@dataclass
class GridReport:
    """What :func:`run_grid` did: cells computed and skipped, rows added, wall seconds."""

    computed: int = 0
    skipped: int = 0
    rows: int = 0
    seconds: float = 0.0

    def __iadd__(self, other: "GridReport") -> "GridReport":
        self.computed += other.computed
        self.skipped += other.skipped
        self.rows += other.rows
        self.seconds += other.seconds
        return self


def _default_attack() -> AttackFn:
    from segrepro.attacks import attack
    return attack


def run_grid(spec: GridSpec, store: ResultStore, models: Mapping[str, torch.nn.Module],
             data: tuple[torch.Tensor, torch.Tensor], *, attack_fn: AttackFn | None = None,
             device: str | torch.device | None = None, amp: bool = False, progress: bool = True,
             dist=None) -> GridReport:
    """Run every cell of ``spec`` not yet in ``store`` and append its rows.

    Args:
        spec: The grid.
        store: Result table; rows of finished cells are written after each cell.
        models: Name -> ``SegModel`` for every source and target (may load lazily on ``__getitem__``).
        data: ``(images, labels)`` of the evaluation split; the first ``spec.n_images`` are used.
        attack_fn: ``segrepro.attacks.attack`` (injectable for tests).
        device: Where to run (default: CUDA when available).
        amp: Autocast the target evaluations (CUDA).
        progress: Show a tqdm bar.
        dist: A ``segrepro.run.distributed.DistContext``; default: ``DistContext.from_env()``
            (torchrun variables; a plain run is one process). Cells are sharded round-robin.

    Returns:
        A :class:`GridReport`.

    Shape:
        images ``(N,3,H,W)`` float in [0,1]; labels ``(N,H,W)`` int64 (255 = ignore).
    """
    t0 = time.perf_counter()
    ctx = dist or distributed.DistContext.from_env()
    caller_store = main_store = store
    if ctx.rank == 0 and distributed.rank_tables(main_store.path):
        main_store.merge_from(distributed.rank_tables(main_store.path))  # shards left by a killed torchrun run
    if ctx.world_size > 1:
        distributed.barrier(ctx)
        main_store = ResultStore(main_store.path)
        store = ResultStore(distributed.rank_table_path(main_store.path, ctx.rank))
    todo, report = _plan(spec, main_store)
    mine = distributed.shard(todo, ctx)
    if mine or (ctx.rank == 0 and todo):
        if device is None:
            device = ctx.device if ctx.world_size > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(device)
        amp = amp and device.type == "cuda"  # autocast is a CUDA speed-up; on CPU it would only change numerics
        runner = _CellRunner(spec, models, data, attack_fn or _default_attack(), device, amp)
        if ctx.rank == 0:
            report.rows += store.add(runner.clean_rows(main_store))
        bar = tqdm(mine, desc=f"{spec.study}/{spec.grid}/{spec.preset}", disable=not progress, leave=False)
        for cell, missing in bar:
            report.rows += store.add(runner.run(cell, missing, with_cost=not main_store.has_cell(cell.key)))
            if spec.save_examples:
                runner.save_examples(cell, main_store.path.parent / "examples")
            report.computed += 1
    if ctx.world_size > 1:
        distributed.barrier(ctx)
        if ctx.rank == 0:
            main_store.merge_from(distributed.rank_tables(main_store.path))
        distributed.barrier(ctx)
        caller_store.reload()
    report.seconds = time.perf_counter() - t0
    return report


def _plan(spec: GridSpec, store: ResultStore) -> tuple[list[tuple[Cell, list[tuple[str, str]]]], GridReport]:
    """Cells with their missing ``(target, scale)`` pairs; fully stored cells are skipped."""
    wanted = [(t, ev.scale_name(s)) for t in spec.all_targets for s in spec.eval_scales]
    todo, report = [], GridReport()
    for cell in spec.cells():
        have = store.covered(cell.key)
        missing = [w for w in wanted if w not in have]
        if missing:
            todo.append((cell, missing))
        else:
            report.skipped += 1
    return todo, report


class _CellRunner:
    """Holds the evaluation data and the clean predictions shared by the cells of one grid."""

    def __init__(self, spec, models, data, attack_fn, device, amp):
        images, labels = data
        if images.shape[0] < spec.n_images:
            raise ValueError(f"grid {spec.grid!r} wants {spec.n_images} images, data has {images.shape[0]}")
        self.spec, self.models, self.attack_fn, self.device, self.amp = spec, models, attack_fn, device, amp
        self.images = images[: spec.n_images].to(device)
        self.labels = labels[: spec.n_images].to(device)
        self._clean: dict[tuple[str, str], tuple[torch.Tensor, Counts]] = {}
        self._last: dict[str, Any] = {}
        self._engine = {"amp": True} if amp else {}  # engine option: autocast the attack's forwards

    def model(self, name: str) -> torch.nn.Module:
        return self.models[name].to(self.device).eval()

    def clean(self, target: str, scale: str) -> tuple[torch.Tensor, Counts]:
        """The target's prediction on the clean images at ``scale`` and its counts (computed once)."""
        if (target, scale) not in self._clean:
            pred = ev.segment(self.model(target), self.images, scale, self.spec.batch_size, self.amp)
            self._clean[(target, scale)] = pred, Counts.of(pred, self.labels, self.model(target).num_classes)
        return self._clean[(target, scale)]

    def clean_rows(self, store: ResultStore) -> list[dict]:
        """``method="clean"`` rows for every target and scale not stored yet."""
        rows = []
        for t in self.spec.all_targets:
            for s in self.spec.eval_scales:
                s = ev.scale_name(s)
                key = _clean_key(self.spec, t, s)
                if store.has_cell(key):
                    continue
                _, st = self.clean(t, s)
                for metric, value in (("miou", st.miou), ("mis_ratio", st.mis_ratio)):
                    rows.append(dict(study=self.spec.study, preset=self.spec.preset, grid=self.spec.grid,
                                     cell=key, source="-", target=t, eval_scale=s, method="clean",
                                     params="{}", eps=0.0, iteration=0, seed=0, metric=metric, value=value))
        return rows

    def run(self, cell: Cell, missing: list[tuple[str, str]], with_cost: bool) -> list[dict]:
        spec = self.spec
        counter = ev.CountingModel(self.model(cell.source))
        snaps: dict[int, list[torch.Tensor]] = {t: [] for t in spec.snapshots}
        start = time.perf_counter()
        for b, lo in enumerate(range(0, spec.n_images, spec.batch_size)):
            x, y = self.images[lo:lo + spec.batch_size], self.labels[lo:lo + spec.batch_size]
            out = self.attack_fn(counter, x, y, cell.method.name, eps=cell.eps, alpha=spec.alpha,
                                 steps=spec.steps, snapshots=list(spec.snapshots),
                                 seed=cell.seed * 1_000_003 + b, **self._engine, **dict(cell.method.params))
            for t in spec.snapshots:
                snaps[t].append(out[t].detach())
        seconds = time.perf_counter() - start
        rows = []
        if with_cost:
            n = spec.n_images
            for metric, value in (("seconds_per_example", seconds / n),
                                  ("forward_passes_per_example", counter.forwards / n),
                                  ("backward_passes_per_example", counter.backwards / n)):
                rows.append(cell.row(target=cell.source, iteration=spec.steps, metric=metric, value=value))
        for t in spec.snapshots:
            adv = torch.cat(snaps[t])
            for target, scale in missing:
                model = self.model(target)
                clean_pred, clean = self.clean(target, scale)
                pred = ev.segment(model, adv, scale, spec.batch_size, self.amp)
                st = Counts.of(pred, self.labels, model.num_classes, clean_pred=clean_pred)
                for metric, value in (("miou", st.miou), ("mis_ratio", st.mis_ratio),
                                      ("asr", st.asr), ("rel_drop", relative_drop(st.miou, clean.miou))):
                    rows.append(cell.row(target=target, eval_scale=scale, iteration=t, metric=metric, value=value))
        self._last = {"cell": cell.key, "adv": torch.cat(snaps[spec.snapshots[-1]])}
        return rows

    def save_examples(self, cell: Cell, folder) -> None:
        k = self.spec.save_examples
        if self._last.get("cell") != cell.key:
            return
        ev.save_examples(folder / f"{cell.key}.pt", self.images[:k], self._last["adv"][:k], self.labels[:k],
                         meta=cell.row(iteration=self.spec.snapshots[-1]))


def _clean_key(spec: GridSpec, target: str, scale: str) -> str:
    payload = dict(preset=spec.preset, target=target, scale=scale, n_images=spec.n_images, method="clean")
    return "clean-" + hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
