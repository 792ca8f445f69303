"""Faults of the result store: concurrent writers, damaged tables, cells cut short."""
import multiprocessing
import re

import pytest

from segrepro.run import distributed
from segrepro.run.store import ATTACK_METRICS, DamagedTableError, ResultStore, read_table

REPAIR = "Move it aside and rerun"


def _row(cell="c1", target="t", iteration=4, metric="miou", value=0.5, seed=0):
    return dict(study="s", preset="shapes", grid="main", cell=cell, source="a", target=target, eval_scale="1",
                method="ds", params='{"lam":0.5}', eps=0.03, iteration=iteration, seed=seed, metric=metric,
                value=value)


def _cell_rows(cell="c1", targets=("t1", "t2"), iterations=(2, 4)):
    """Every row the grid writes for a cell: each target x iteration x attack metric."""
    return [_row(cell, t, i, m) for t in targets for i in iterations for m in ATTACK_METRICS]


def _stored(tmp_path, rows=None):
    path = tmp_path / "r.csv"
    ResultStore(path).add(rows or _cell_rows())
    return path


def _damaged(path, problem):
    """The exact refusal: the file, the problem, the repair."""
    return pytest.raises(DamagedTableError, match=rf"result table {re.escape(str(path))} is damaged: {problem}.*"
                                                  rf"{REPAIR} .*the missing cells are recomputed")


# ---- concurrent writers ---------------------------------------------------------------------------------
def _writer(path, who, n, start):
    store = ResultStore(path)  # opened before the other process writes: its copy goes stale at once
    start.wait()
    for i in range(n):
        store.add([_row(cell=f"{who}-{i}", seed=i)])


def test_two_processes_adding_rows_at_once_lose_none(tmp_path):
    path, n = tmp_path / "r.csv", 40
    ctx = multiprocessing.get_context("fork")  # the children inherit the imported package: no 10 s start
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, who, n, start)) for who in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    cells = read_table(path)["cell"].tolist()
    assert sorted(cells) == sorted(f"{who}-{i}" for who in ("a", "b") for i in range(n))  # every row, once


def test_a_stale_store_merges_instead_of_overwriting(tmp_path):
    path = tmp_path / "r.csv"
    first, second = ResultStore(path), ResultStore(path)
    first.add([_row("c1")])
    second.add([_row("c2")])  # its copy was read before c1 existed
    assert ResultStore(path).cells() == {"c1", "c2"} and second.cells() == {"c1", "c2"}


def test_the_same_cell_computed_twice_is_stored_once(tmp_path):
    path = tmp_path / "r.csv"
    first, second = ResultStore(path), ResultStore(path)
    assert first.add(_cell_rows()) == 16
    assert second.add(_cell_rows()) == 0  # e.g. two runs racing on one cell: the first copy is kept
    assert len(read_table(path)) == 16


def test_the_lock_file_is_hidden_from_table_globs(tmp_path):
    path = _stored(tmp_path)
    assert (tmp_path / ".r.csv.lock").exists()
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["r.csv"] and distributed.rank_tables(path) == []


# ---- damaged tables -------------------------------------------------------------------------------------
def test_table_cut_mid_line_is_refused(tmp_path):
    path = _stored(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"ds,") + 2])  # the last row ends inside its method field
    with _damaged(path, r"it does not end with a newline \(cut in the middle of a row\)"):
        read_table(path)


def test_table_cut_mid_number_is_refused(tmp_path):
    path = _stored(tmp_path, [_row(value=0.123456789)])
    path.write_bytes(path.read_bytes()[:-6])  # "0.123" of "0.123456789\n": a plausible, wrong value
    with _damaged(path, "it does not end with a newline"):
        read_table(path)


def test_table_without_final_newline_is_refused_by_the_store_too(tmp_path):
    path = _stored(tmp_path)
    path.write_bytes(path.read_bytes()[:-1])
    with _damaged(path, "it does not end with a newline"):
        ResultStore(path)  # the grid opens its store first: nothing is trusted, nothing overwritten


def test_short_row_is_refused(tmp_path):
    path = _stored(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].rsplit(",", 1)[0] + "\n"  # its value lost: pandas alone would read a NaN
    path.write_text("".join(lines))
    with _damaged(path, "line 4 has 13 fields, not 14"):
        read_table(path)


def test_long_row_is_refused(tmp_path):
    path = _stored(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].rstrip("\n") + ",0.5\n"
    path.write_text("".join(lines))
    with _damaged(path, "line 3 has 15 fields, not 14"):
        read_table(path)


def test_unparsable_value_is_refused(tmp_path):
    path = _stored(tmp_path, [_row(value=0.25)])
    path.write_text(path.read_text().replace("0.25\n", "0.2x\n"))
    with _damaged(path, "line 2 has value='0.2x', not a number"):
        read_table(path)


def test_fractional_iteration_is_refused(tmp_path):
    path = _stored(tmp_path, [_row(iteration=4)])
    path.write_text(path.read_text().replace(",4,0,miou,", ",4.5,0,miou,"))
    with _damaged(path, "line 2 has iteration='4.5', not an integer"):
        read_table(path)


def test_unclosed_quote_is_refused(tmp_path):
    path = _stored(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('0.5}"', "0.5}", 1)  # the params field loses its closing quote
    path.write_text("".join(lines))
    with _damaged(path, "line 3 has an unclosed quote"):
        read_table(path)


def test_binary_garbage_is_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with _damaged(path, r"it is not UTF-8 text \(byte 128\)"):
        read_table(path)


def test_nul_bytes_are_refused(tmp_path):
    path = _stored(tmp_path)
    path.write_bytes(path.read_bytes()[:200] + b"\x00" * 64 + b"\n")  # a crash that left zeroed blocks
    with _damaged(path, r"it holds binary data \(NUL bytes\)"):
        read_table(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"")
    with _damaged(path, r"the file is empty"):
        ResultStore(path)


def test_another_csv_is_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("stage,seconds\nprepare,1.0\n")  # e.g. timings.csv copied over a study table
    with _damaged(path, r"its first line is 'stage,seconds', not the header 'study,preset,"):
        read_table(path)


def test_damaged_rank_shard_is_refused_naming_the_shard(tmp_path):
    main = ResultStore(tmp_path / "r.csv")
    shard = tmp_path / "r.rank1.csv"
    shard.write_bytes(b"study,preset\ns,sh")
    with _damaged(shard, "it does not end with a newline"):
        main.merge_from([shard])
    assert shard.exists()  # not removed: its rows are not in the main table


def test_the_repair_recomputes_the_cells(tmp_path):
    path = _stored(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DamagedTableError) as err:
        ResultStore(path)
    path.rename(err.value.path.with_name("r.csv.damaged"))  # the repair the message gives
    assert ResultStore(path).covered("c1") == set()  # nothing counts as done: the grid recomputes the cell


# ---- a cell counts as done only when all its rows are there ---------------------------------------------
def test_target_missing_a_metric_is_not_covered(tmp_path):
    rows = [r for r in _cell_rows() if not (r["target"] == "t2" and r["iteration"] == 4 and r["metric"] == "asr")]
    store = ResultStore(tmp_path / "r.csv")
    store.add(rows)
    assert store.covered("c1") == {("t1", "1")}  # t2 is recomputed, t1 kept


def test_iteration_lost_for_every_target_is_caught_with_the_grid_snapshots(tmp_path):
    store = ResultStore(tmp_path / "r.csv")
    store.add(_cell_rows(iterations=(2,)))  # the rows of iteration 4 are gone for every target
    assert store.covered("c1", iterations=(2, 4), metrics=ATTACK_METRICS) == set()
    assert store.covered("c1", iterations=(2,), metrics=ATTACK_METRICS) == {("t1", "1"), ("t2", "1")}


def test_complete_cell_is_covered(tmp_path):
    store = ResultStore(tmp_path / "r.csv")
    store.add(_cell_rows() + [_row("c1", "a", 4, "seconds_per_example")])
    assert store.covered("c1", iterations=(2, 4), metrics=ATTACK_METRICS) == {("t1", "1"), ("t2", "1")}


def test_clean_cell_missing_a_metric_is_not_done(tmp_path):
    store = ResultStore(tmp_path / "r.csv")
    store.add([_row("clean-1", metric="miou")])  # its mis_ratio row was lost
    assert store.has_cell("clean-1") and not store.has_cell("clean-1", metrics=("miou", "mis_ratio"))


def test_recomputing_a_partial_cell_adds_only_the_missing_rows(tmp_path):
    store = ResultStore(tmp_path / "r.csv")
    store.add(_cell_rows(targets=("t1",)))
    assert store.add(_cell_rows()) == 8  # the grid reruns the cell for t2; t1's rows are not duplicated
    assert len(read_table(tmp_path / "r.csv")) == 16
