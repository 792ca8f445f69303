"""Running the grid under ``torchrun``: rank context, sharding and the per-rank table files.

The runner is written once for one process; scaling out only changes *which* items a process
handles and *where* it writes them. Each rank writes its rows to ``<name>.rank{r}.csv`` next to the
final table (``segrepro.run.store.ResultStore``) and rank 0 folds them into the table after a
barrier (``ResultStore.merge_from``), so a run with any number of processes produces the same table
as a 1-process run (given deterministic cells). Multi-node runs need the results folder on a shared
filesystem.

Example::

    torchrun --nproc_per_node 2 -m segrepro.cli run --profile smoke

    ctx = DistContext.from_env()
    mine = shard(cells, ctx)
    ...
    ctx.close()
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence, TypeVar

import torch
import torch.distributed as dist


T = TypeVar("T")
ShardMode = Literal["round_robin", "contiguous"]
SHARD_MODES = ("round_robin", "contiguous")


@dataclass
class DistContext:
    """Who this process is in a (possibly one-process) run.

    Attributes:
        rank: global rank, 0..world_size-1.
        world_size: number of processes.
        local_rank: rank on this node (selects the GPU).
        backend: ``"gloo"``/``"nccl"`` when a process group was initialised here, else None.
        device: the device this rank should use (``cuda:<local_rank>`` under nccl, else as requested).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when collective calls are live (a process group exists and more than one rank)."""
        return self.backend is not None and self.world_size > 1

    @classmethod
    def from_env(cls, device: str | torch.device | None = None, backend: str | None = None) -> "DistContext":
        """Read the variables ``torchrun`` sets (RANK, WORLD_SIZE, LOCAL_RANK) and join the process group.

        Without them (a plain ``python`` run) this is a no-op context of rank 0 of 1.

        Args:
            device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (default): with CUDA, rank r uses ``cuda:<local_rank>``.
            backend: force ``"gloo"`` or ``"nccl"``; default nccl on CUDA, gloo on CPU.
        """
        from segrepro.devices import resolve_device

        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
        dev = resolve_device(device)
        if world <= 1:
            return cls(rank=0, world_size=1, local_rank=0, backend=None, device=dev)
        if not 0 <= rank < world:
            raise ValueError(f"RANK={rank} is outside 0..WORLD_SIZE-1={world - 1}")
        if dev.type == "cuda":
            dev = torch.device(f"cuda:{local % torch.cuda.device_count()}")
            torch.cuda.set_device(dev)
        backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
        if backend not in ("gloo", "nccl"):
            raise ValueError(f"unknown backend {backend!r}; valid: 'gloo', 'nccl'")
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, rank=rank, world_size=world)
        return cls(rank=rank, world_size=world, local_rank=local, backend=backend, device=dev)

    def close(self) -> None:
        """Leave the process group (only if one is live)."""
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
        self.backend = None

    def __enter__(self) -> "DistContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def shard(items: Sequence[T], ctx: DistContext, mode: ShardMode = "round_robin") -> list[T]:
    """The items this rank handles; the shards of all ranks partition ``items`` in order.

    Args:
        items: the full, identically ordered list on every rank (images, grid cells).
        ctx: the rank context.
        mode: ``"round_robin"`` (item i goes to rank i mod W: balances cost that drifts along the list)
            or ``"contiguous"`` (rank r gets one block; the first ``len % W`` ranks get one extra item).

    Returns:
        The sub-list for ``ctx.rank``, in the original order.
    """
    if mode not in SHARD_MODES:
        raise ValueError(f"unknown shard mode {mode!r}; valid: {list(SHARD_MODES)}")
    items = list(items)
    w, r = ctx.world_size, ctx.rank
    if mode == "round_robin":
        return items[r::w]
    base, extra = divmod(len(items), w)
    start = r * base + min(r, extra)
    return items[start:start + base + (1 if r < extra else 0)]


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in a 1-process run)."""
    if ctx.enabled:
        dist.barrier()


def rank_table_path(path: str | Path, rank: int) -> Path:
    """``results/x.csv`` -> ``results/x.rank{rank}.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.rank{rank}.csv")


def rank_tables(path: str | Path) -> list[Path]:
    """Every per-rank table of ``path`` present on disk (also those a killed run left), in rank order."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.stem}.rank*.csv"))


def gather_objects(items: list, ctx: DistContext) -> list | None:
    """Concatenate every rank's ``items`` on rank 0 (rank order); ``None`` on the other ranks.

    A one-process run returns ``items`` itself. Used to combine a cell's per-batch counts.
    """
    if not ctx.enabled:
        return list(items)
    gathered = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(items, gathered, dst=0)
    return [x for part in gathered for x in part] if ctx.is_main else None
