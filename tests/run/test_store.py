import pytest

import segrepro.paths
from segrepro.run.store import COLUMNS, ResultStore, read_table


def _row(cell="c1", target="t", value=0.5, metric="miou"):
    return dict(study="s", preset="shapes", grid="main", cell=cell, source="a", target=target, eval_scale="1",
                method="ds", params='{"scale_range":0.5}', eps=0.03, iteration=10, seed=0, metric=metric,
                value=value)


def test_add_roundtrip_keeps_types_and_exact_floats(tmp_path):
    store = ResultStore(tmp_path / "r.csv")
    assert store.add([_row(value=0.1 + 0.2), _row(target="-", value=1 / 3)]) == 2
    df = read_table(tmp_path / "r.csv")
    assert list(df.columns) == COLUMNS
    assert df["value"].tolist() == [0.1 + 0.2, 1 / 3]  # bit-exact round trip
    assert df["params"].tolist() == ['{"scale_range":0.5}'] * 2
    assert df["target"].tolist() == ["t", "-"]
    assert df["iteration"].dtype == "int64" and df["eval_scale"].tolist() == ["1", "1"]


def test_missing_column_is_rejected(tmp_path):
    row = _row()
    del row["metric"]
    with pytest.raises(ValueError, match="metric"):
        ResultStore(tmp_path / "r.csv").add([row])


def test_kill_before_rename_leaves_old_table(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    store = ResultStore(path)
    store.add([_row("c1")])
    before = path.read_bytes()

    def killed(src, dst):
        raise KeyboardInterrupt("killed between write and rename")

    monkeypatch.setattr(segrepro.paths.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.add([_row("c2")])
    assert path.read_bytes() == before
    assert ResultStore(path).cells() == {"c1"}
    assert store.cells() == {"c1"}  # memory matches disk after the failed write


def test_kill_during_temp_write_leaves_old_table(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    store = ResultStore(path)
    store.add([_row("c1")])
    before = path.read_bytes()
    real = segrepro.paths.Path.write_bytes

    def half(self, data):
        real(self, data[: len(data) // 2])
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(segrepro.paths.Path, "write_bytes", half)
    with pytest.raises(KeyboardInterrupt):
        store.add([_row("c2")])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_table(path)["cell"].tolist() == ["c1"]


def test_covered_and_merge(tmp_path):
    main = ResultStore(tmp_path / "r.csv")
    main.add([_row("c1", "t1")])
    shard = ResultStore(tmp_path / "r.rank1.csv")
    shard.add([_row("c1", "t1"), _row("c2", "t2"), _row("c2", "a", metric="seconds_per_example")])
    assert shard.covered("c2") == {("t2", "1")}  # cost rows do not count as covered targets
    assert main.merge_from([shard.path]) == 2  # the duplicate c1 row is dropped
    assert not shard.path.exists()
    assert sorted(ResultStore(tmp_path / "r.csv").cells()) == ["c1", "c2"]
