"""Per-image counts files: round trip, merge, partial checkpoints, damaged files."""
import numpy as np
import pytest

from segrepro.run.counts import CountStore, concat


def _counts(n, value=1):
    return {("psp_r18", "1", 20): {"inter": np.full((n, 3), value), "valid": np.full(n, 10 * value)},
            ("psp_r18", "1", 0): {"inter": np.zeros((n, 3), int), "valid": np.full(n, 10)}}


def test_round_trip_and_merge_of_targets(tmp_path):
    store = CountStore(tmp_path)
    store.save("abc", _counts(4))
    store.save("abc", {("fcn8s_vgg16", "ms", 20): {"inter": np.ones((4, 3), int)}})
    got = store.load("abc")
    assert set(got) == {("psp_r18", "1", 20), ("psp_r18", "1", 0), ("fcn8s_vgg16", "ms", 20)}
    assert got[("psp_r18", "1", 20)]["inter"].shape == (4, 3) and store.has("abc")


def test_partial_checkpoint_resumes_and_is_removed_by_the_final_save(tmp_path):
    store = CountStore(tmp_path)
    assert store.load_partial("c") == ({}, 0)
    store.save_partial("c", _counts(2), batches_done=1)
    counts, done = store.load_partial("c")
    assert done == 1 and counts[("psp_r18", "1", 20)]["valid"].tolist() == [10, 10]
    store.save("c", concat([counts, _counts(2, 2)]))
    assert not store.path("c", partial=True).exists()
    assert store.load("c")[("psp_r18", "1", 20)]["valid"].tolist() == [10, 10, 20, 20]


def test_damaged_files(tmp_path):
    store = CountStore(tmp_path)
    store.save("c", _counts(2))
    store.path("c").write_bytes(store.path("c").read_bytes()[:50])
    with pytest.raises(ValueError, match=r"damaged counts file .*c\.npz.*move it aside"):
        store.load("c")
    store.path("d", partial=True).write_bytes(b"garbage")
    assert store.load_partial("d") == ({}, 0)  # a damaged checkpoint only costs recomputation
    with pytest.raises(FileNotFoundError, match="no per-image counts for cell zz"):
        store.load("zz")
