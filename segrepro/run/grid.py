"""The grid runner: sources x methods x eps x seeds -> adversarial examples -> every target.

One **cell** is ``(source, method, params, eps, seed)``: its adversarial examples are made once, with
``snapshots`` (one attack run yields the examples at every requested iteration), and evaluated on
every target (the source itself included: the white-box row) and every evaluation scale. Each finished
cell is appended to a :class:`~segrepro.run.store.ResultStore` atomically; a rerun skips the
stored cells, so a killed run resumes where it stopped.

A cell **streams**: per batch it attacks, segments with every target and scale, keeps per-image
counts (``segrepro.run.counts``, for intervals over images) and drops the batch, so memory does not
grow with the number of images; its accumulators are checkpointed every few batches (mid-cell
resume). Under ``torchrun`` a cell's batches are sharded across ranks and rank 0 gathers the counts:
the table equals a one-process run's. Cell keys hold the source model's fingerprint (a hash of its
weights' file), so replacing a checkpoint behind a name recomputes what depends on it.

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

from segrepro.metrics import image_counts, metrics_from_counts, relative_drop
from segrepro.run import distributed
from segrepro.run import evaluate as ev
from segrepro.run.counts import CountStore, concat
from segrepro.run.store import ATTACK_METRICS, COST_METRICS, ResultStore

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

    def cells(self, fingerprint: Callable[[str], str] | None = None) -> list["Cell"]:
        """Every cell of the grid, in a stable order; ``fingerprint(source)`` enters each cell's key."""
        fp = fingerprint or (lambda name: "")
        return [Cell(self, s, m, float(e), int(seed), fp(s)) for s in self.sources for m in self.methods
                for e in self.eps for seed in self.seeds]


@dataclass(frozen=True)
class Cell:
    """One attack run: ``(source, method, eps, seed)`` of a :class:`GridSpec`."""

    spec: GridSpec
    source: str
    method: MethodSpec
    eps: float
    seed: int
    fingerprint: str = ""

    @property
    def key(self) -> str:
        """Hash of everything that determines the examples (not the targets: those can be added),
        the source's weights included when a fingerprint is given."""
        s = self.spec
        payload = dict(preset=s.preset, source=self.source, method=self.method.name,
                       params=self.method.params_json, eps=round(self.eps, 8), seed=self.seed,
                       alpha=round(s.alpha, 8), steps=s.steps, snapshots=list(s.snapshots),
                       n_images=s.n_images, batch_size=s.batch_size)
        if self.fingerprint and self.fingerprint != self.source:
            payload["weights"] = self.fingerprint
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


#: A running cell saves its accumulated counts after every this many batches (mid-cell resume).
CHECKPOINT_EVERY = 4


def run_grid(spec: GridSpec, store: ResultStore, models: Mapping[str, torch.nn.Module], data: Any, *,
             attack_fn: AttackFn | None = None, device: str | torch.device | None = None, amp: bool = False,
             progress: bool = True, dist=None, counts: CountStore | None = None,
             fingerprint: Callable[[str], str] | None = None) -> GridReport:
    """Run every cell of ``spec`` not yet in ``store`` and append its rows (streaming, resumable).

    A cell streams over batches: attack one batch (every snapshot at once), segment it with every
    missing ``(target, scale)``, add the per-image counts (``segrepro.metrics.image_counts``) to the
    cell's accumulators and drop the batch; memory is O(batch x snapshots), whatever ``n_images``.
    Every :data:`CHECKPOINT_EVERY` batches the accumulators go to ``counts`` (``.partial.npz``), so
    a killed run resumes mid-cell; a finished cell writes its counts file, then its tidy rows.

    Under ``torchrun`` a cell's *batches* are sharded across ranks (round robin); rank 0 gathers the
    counts in batch order and writes, so the table and counts equal a one-process run's exactly
    (each batch's attack seed depends only on the cell seed and the batch index).

    Args:
        spec: The grid.
        store: Result table; rows of finished cells are written after each cell.
        models: Name -> ``SegModel`` for every source and target (may load lazily on ``__getitem__``).
        data: ``(images, labels)`` tensors, or a dataset (``tensors(indices)`` or ``__getitem__``) whose first
            ``spec.n_images`` items are evaluated; batches are loaded lazily.
        attack_fn: ``segrepro.attacks.attack`` (injectable for tests).
        device: Where to run (default: CUDA when available).
        amp: Autocast the attacks' and targets' forwards (CUDA).
        progress: Show a tqdm bar.
        dist: A ``segrepro.run.distributed.DistContext``; default: ``DistContext.from_env()``.
        counts: Where per-image counts go (default: ``counts/<study>/`` beside the table).
        fingerprint: ``name -> str`` identity of a model's weights (default: the name); a cell's key
            holds its source's, and a changed target fingerprint recomputes that target's rows.

    Returns:
        A :class:`GridReport`.

    Shape:
        images ``(N,3,H,W)`` float in [0,1]; labels ``(N,H,W)`` int64 (255 = ignore).
    """
    t0 = time.perf_counter()
    ctx = dist or distributed.DistContext.from_env()
    counts = counts or CountStore(store.path.parent / "counts" / spec.study)
    fingerprint = fingerprint or (lambda name: "")
    todo, report = _plan(spec, store, counts, fingerprint)
    if todo:
        if device is None:
            device = ctx.device if ctx.world_size > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(device)
        amp = amp and device.type == "cuda"  # autocast is a CUDA speed-up; on CPU it would only change numerics
        runner = _CellRunner(spec, models, data, attack_fn or _default_attack(), device, amp, ctx, counts, fingerprint)
        report.rows += runner.clean(store)
        bar = tqdm(todo, desc=f"{spec.study}/{spec.grid}/{spec.preset}", disable=not progress or not ctx.is_main,
                   leave=False)
        for cell, missing in bar:
            report.rows += runner.run(cell, missing, store)
            report.computed += 1
    distributed.barrier(ctx)
    if not ctx.is_main:
        store.reload()
    report.seconds = time.perf_counter() - t0
    return report


def _plan(spec: GridSpec, store: ResultStore, counts: CountStore, fingerprint) -> tuple[list, GridReport]:
    """Cells with their missing ``(target, scale)`` pairs; fully stored cells are skipped.

    A pair counts as stored only when the cell's counts file records the target's current
    fingerprint (a checkpoint replaced behind a name is recomputed).
    """
    wanted = [(t, ev.scale_name(s)) for t in spec.all_targets for s in spec.eval_scales]
    todo, report = [], GridReport()
    for cell in spec.cells(fingerprint):
        have = store.covered(cell.key, iterations=spec.snapshots, metrics=ATTACK_METRICS)
        if have:
            have &= {(t, s) for t, s in have if counts.fingerprint(cell.key, t) == fingerprint(t)}
        missing = [w for w in wanted if w not in have]
        if missing:
            todo.append((cell, missing))
        else:
            report.skipped += 1
    return todo, report


def _fetch(data: Any, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``lo..hi-1`` of the evaluation data, on CPU."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        if data[0].shape[0] < hi:
            raise ValueError(f"the grid wants {hi} images, the data has {data[0].shape[0]}")
        return data[0][lo:hi], data[1][lo:hi]
    if len(data) < hi:
        raise ValueError(f"the grid wants {hi} images, the dataset has {len(data)}")
    if callable(getattr(data, "tensors", None)):  # synthetic presets: one vectorised read
        return data.tensors(list(range(lo, hi)))
    items = [data[i] for i in range(lo, hi)]
    return torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(y) for _, y in items]).long()


class _CellRunner:
    """Streams the cells of one grid: per batch attack, segment, count, drop."""

    def __init__(self, spec, models, data, attack_fn, device, amp, ctx, counts, fingerprint):
        self.spec, self.models, self.data, self.attack_fn = spec, models, data, attack_fn
        self.device, self.amp, self.ctx, self.counts, self.fingerprint = device, amp, ctx, counts, fingerprint
        self.batches = list(range(0, spec.n_images, spec.batch_size))
        self._engine = {"amp": True} if amp else {}  # engine option: autocast the attack's forwards

    def model(self, name: str) -> torch.nn.Module:
        return self.models[name].to(self.device).eval()

    def batch(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo = self.batches[b]
        x, y = _fetch(self.data, lo, min(lo + self.spec.batch_size, self.spec.n_images))
        return x.to(self.device), y.to(self.device)

    def _segment(self, target: str, images: torch.Tensor, scale: str) -> torch.Tensor:
        return ev.segment(self.model(target), images, scale, self.spec.batch_size, self.amp)

    def clean(self, store: ResultStore) -> int:
        """``method="clean"`` rows (and counts) of every target and scale not stored yet."""
        spec, rows = self.spec, []
        pairs = [(t, ev.scale_name(s)) for t in spec.all_targets for s in spec.eval_scales]
        pairs = [(t, s) for t, s in pairs if not (self.counts.has(key := clean_key(spec, t, s, self.fingerprint(t)))
                                                  and store.has_cell(key, metrics=("miou", "mis_ratio")))]
        if not pairs:
            return 0
        parts = []
        for b in distributed.shard(range(len(self.batches)), self.ctx):
            x, y = self.batch(b)
            parts.append((b, {(t, s, 0): _counts(self._segment(t, x, s), y, self.model(t).num_classes)
                              for t, s in pairs}))
        merged = self._gather(parts)
        if not self.ctx.is_main:
            return 0
        for t, s in pairs:
            key = clean_key(spec, t, s, self.fingerprint(t))
            self.counts.save(key, {(t, s, 0): merged[(t, s, 0)]}, {t: self.fingerprint(t)})
            m = metrics_from_counts(merged[(t, s, 0)])
            rows += [dict(study=spec.study, preset=spec.preset, grid=spec.grid, cell=key, source="-", target=t,
                          eval_scale=s, method="clean", params="{}", eps=0.0, iteration=0, seed=0, metric=metric,
                          value=float(m[metric])) for metric in ("miou", "mis_ratio")]
        return store.add(rows)

    def run(self, cell: Cell, missing: list[tuple[str, str]], store: ResultStore) -> int:
        """Compute one cell's missing ``(target, scale)`` pairs; returns the rows added (rank 0)."""
        spec = self.spec
        counter = ev.CountingModel(self.model(cell.source))
        parts, done, spent, prior = self._resume(cell, missing)
        mine = [b for b in distributed.shard(range(len(self.batches)), self.ctx) if b not in done]
        start = time.perf_counter()
        for i, b in enumerate(mine):
            x, y = self.batch(b)
            out = self.attack_fn(counter, x, y, cell.method.name, eps=cell.eps, alpha=spec.alpha,
                                 steps=spec.steps, snapshots=list(spec.snapshots),
                                 seed=cell.seed * 1_000_003 + b, **self._engine, **dict(cell.method.params))
            part = {}
            for target, scale in missing:
                num_classes = self.model(target).num_classes
                clean = self._segment(target, x, scale)
                part[(target, scale, 0)] = _counts(clean, y, num_classes)
                for t in spec.snapshots:
                    part[(target, scale, t)] = _counts(self._segment(target, out[t], scale), y, num_classes, clean)
            parts.append((b, part))
            if spec.save_examples and b == 0 and self.ctx.is_main:
                k = spec.save_examples
                ev.save_examples(store.path.parent / "examples" / f"{cell.key}.pt", x[:k],
                                 out[spec.snapshots[-1]][:k], y[:k], meta=cell.row(iteration=spec.snapshots[-1]))
            del out
            if self.ctx.world_size == 1 and (i + 1) % CHECKPOINT_EVERY == 0 and i + 1 < len(mine):
                self.counts.save_partial(cell.key, _stack(parts), [p[0] for p in parts], {
                    "seconds": spent + time.perf_counter() - start, "targets": missing,
                    "passes": [prior[0] + counter.forwards, prior[1] + counter.backwards]})
        seconds = spent + time.perf_counter() - start
        merged = self._gather(parts)
        passes = distributed.gather_objects([(counter.forwards, counter.backwards)], self.ctx)
        if not self.ctx.is_main:
            return 0
        forwards, backwards = (sum(p[i] for p in passes) + prior[i] for i in (0, 1))
        self.counts.save(cell.key, merged, {t: self.fingerprint(t) for t, _ in missing})
        store.drop(cell.key, [t for t, _ in missing])  # rows of a replaced target checkpoint
        rows = []
        if not store.has_cell(cell.key, metrics=COST_METRICS):
            n = spec.n_images
            for metric, value in (("seconds_per_example", seconds / n),
                                  ("forward_passes_per_example", forwards / n),
                                  ("backward_passes_per_example", backwards / n)):
                rows.append(cell.row(target=cell.source, iteration=spec.steps, metric=metric, value=value))
        for target, scale in missing:
            clean_miou = float(metrics_from_counts(merged[(target, scale, 0)])["miou"])
            for t in spec.snapshots:
                m = metrics_from_counts(merged[(target, scale, t)])
                for metric, value in (("miou", m["miou"]), ("mis_ratio", m["mis_ratio"]), ("asr", m["asr"]),
                                      ("rel_drop", relative_drop(float(m["miou"]), clean_miou))):
                    rows.append(cell.row(target=target, eval_scale=scale, iteration=t, metric=metric,
                                         value=float(value)))
        return store.add(rows)

    def _resume(self, cell: Cell, missing) -> tuple[list, set[int], float, tuple[int, int]]:
        """Per-batch counts of an interrupted run of this cell (same targets), its batches, seconds and passes."""
        nothing = [], set(), 0.0, (0, 0)
        if self.ctx.world_size > 1:  # checkpoints are written by one-process runs only
            return nothing
        stacked, batches, info = self.counts.load_partial(cell.key)
        if not batches or info.get("targets") != [list(m) for m in missing]:
            return nothing
        return (_unstack(stacked, batches, self.spec.batch_size), set(batches), float(info.get("seconds", 0.0)),
                tuple(info.get("passes", (0, 0))))

    def _gather(self, parts: list) -> dict:
        """Every rank's per-batch counts on rank 0, joined in batch order (``{}`` on the other ranks)."""
        parts = distributed.gather_objects(parts, self.ctx)
        if parts is None:
            return {}
        return _stack(sorted(parts, key=lambda p: p[0]))


def _counts(pred, labels, num_classes, clean=None) -> dict:
    return {k: v.numpy() for k, v in image_counts(pred, labels, num_classes, clean_pred=clean).items()}


def _stack(parts: list) -> dict:
    """Per-batch counts ``[(b, {key: {field: (n_b, ...)}})]`` -> ``{key: {field: (N, ...)}}`` in list order."""
    return concat(part for _, part in parts)


def _unstack(stacked: dict, batches: list[int], batch_size: int) -> list:
    """Inverse of :func:`_stack` for full batches saved in order (a partial checkpoint)."""
    out = []
    for i, b in enumerate(batches):
        lo = i * batch_size
        out.append((b, {key: {f: v[lo:lo + batch_size] for f, v in fields.items()} for key, fields in stacked.items()}))
    return out


def clean_key(spec: GridSpec, target: str, scale: str, fingerprint: str = "") -> str:
    """The cell key of target ``target``'s clean rows at evaluation scale ``scale`` in grid ``spec``: it changes
    with the images (preset, count) and the target's weights, so rows of other images or weights are stale."""
    payload = dict(preset=spec.preset, target=target, scale=scale, n_images=spec.n_images, method="clean",
                   fingerprint=fingerprint)
    return "clean-" + hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
