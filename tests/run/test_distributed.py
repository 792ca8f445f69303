"""Sharding and the per-rank table files of torchrun runs (the real 2-process run: ``test_torchrun.py``)."""
import pytest

from segrepro.run.distributed import DistContext, rank_table_path, rank_tables, shard


def ctx(rank, world):
    return DistContext(rank=rank, world_size=world)


def test_round_robin_shards():
    items = list("abcdefg")
    assert [shard(items, ctx(r, 3)) for r in range(3)] == [["a", "d", "g"], ["b", "e"], ["c", "f"]]


def test_contiguous_shards_give_extras_to_first_ranks():
    items = list(range(7))
    assert [shard(items, ctx(r, 3), mode="contiguous") for r in range(3)] == [[0, 1, 2], [3, 4], [5, 6]]


def test_more_ranks_than_items_and_single_process():
    assert [shard([1, 2], ctx(r, 4)) for r in range(4)] == [[1], [2], [], []]
    assert [shard([1, 2], ctx(r, 4), mode="contiguous") for r in range(4)] == [[1], [2], [], []]
    assert shard(range(3), ctx(0, 1)) == [0, 1, 2]


def test_unknown_shard_mode():
    with pytest.raises(ValueError, match="round_robin"):
        shard([1], ctx(0, 1), mode="random")


def test_not_launched_is_a_noop_context(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    c = DistContext.from_env(device="cpu")
    assert (c.rank, c.world_size, c.is_main, c.enabled, c.backend) == (0, 1, True, False, None)
    c.close()


def test_rank_table_path():
    assert rank_table_path("results/grid.csv", 3).as_posix() == "results/grid.rank3.csv"


def test_rank_tables_lists_every_rank_file_in_rank_order(tmp_path):
    for r in (1, 0):
        rank_table_path(tmp_path / "grid.csv", r).write_text("x")
    (tmp_path / "other.rank0.csv").write_text("x")
    assert [p.name for p in rank_tables(tmp_path / "grid.csv")] == ["grid.rank0.csv", "grid.rank1.csv"]
