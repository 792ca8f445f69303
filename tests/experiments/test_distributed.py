"""Sharding and merging for torchrun runs: pure logic, plus one real 2-process gloo merge."""
import os
import socket

import pandas as pd
import pytest
import torch.multiprocessing as mp

from segrepro.experiments.distributed import (DistContext, merge_rank_tables, merge_tables, rank_table_path,
                                              read_table, shard, write_rank_table)


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


def test_merge_tables_sorts_independently_of_sharding():
    a = pd.DataFrame({"method": ["pgd", "fs"], "t": [2, 1], "miou": [0.25, 0.5]})
    b = pd.DataFrame({"method": ["pgd"], "t": [1], "miou": [0.125]})
    expected = pd.DataFrame({"method": ["fs", "pgd", "pgd"], "t": [1, 1, 2], "miou": [0.5, 0.125, 0.25]})
    pd.testing.assert_frame_equal(merge_tables([a, b]), expected)
    pd.testing.assert_frame_equal(merge_tables([b, a]), expected)
    pd.testing.assert_frame_equal(merge_tables([b, pd.DataFrame(), a]), expected)
    assert merge_tables([pd.DataFrame()]).empty
    with pytest.raises(ValueError, match="not in the table"):
        merge_tables([a], sort_by=["seed"])


def test_merge_rank_tables_on_one_process_simulating_two_ranks(tmp_path):
    path = tmp_path / "grid.csv"
    # floats that a naive CSV parser would not read back bit for bit
    write_rank_table(pd.DataFrame({"i": [2, 0], "v": [0.1 + 0.2, 1 / 3]}), path, ctx(0, 2))
    write_rank_table(pd.DataFrame({"i": [1], "v": [2 / 3]}), path, ctx(1, 2))
    merged = merge_rank_tables(path, ctx(0, 2))
    expected = pd.DataFrame({"i": [0, 1, 2], "v": [1 / 3, 2 / 3, 0.1 + 0.2]})
    pd.testing.assert_frame_equal(merged, expected, check_exact=True)
    pd.testing.assert_frame_equal(read_table(path), expected, check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.csv"]  # rank files cleaned up


def test_rank_with_empty_table_and_missing_rank(tmp_path):
    path = tmp_path / "grid.csv"
    write_rank_table(pd.DataFrame(), path, ctx(0, 3))
    write_rank_table(pd.DataFrame({"i": [5]}), path, ctx(1, 3))
    with pytest.raises(FileNotFoundError, match=r"grid\.rank2\.csv"):
        merge_rank_tables(path, ctx(0, 3))
    write_rank_table(pd.DataFrame({"i": [4]}), path, ctx(2, 3))
    assert merge_rank_tables(path, ctx(0, 3))["i"].tolist() == [4, 5]
    with pytest.raises(TypeError, match="DataFrame"):
        write_rank_table([1], path, ctx(0, 1))


def _worker(rank, world, port, path, out):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    with DistContext.from_env(device="cpu") as c:
        assert c.backend == "gloo" and c.enabled
        mine = shard(list(range(5)), c)
        write_rank_table(pd.DataFrame({"item": mine, "sq": [i * i for i in mine]}), path, c)
        merged = merge_rank_tables(path, c)
        if c.is_main:
            merged.to_csv(out, index=False)
        else:
            assert merged is None


@pytest.mark.slow
def test_two_process_gloo_merge(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "seen.csv"
    mp.spawn(_worker, args=(2, port, str(tmp_path / "grid.csv"), str(out)), nprocs=2, join=True)
    assert pd.read_csv(out).to_dict("list") == {"item": [0, 1, 2, 3, 4], "sq": [0, 1, 4, 9, 16]}
