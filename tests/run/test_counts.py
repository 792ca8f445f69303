"""Per-image counts files: round trip, merge, partial checkpoints, damaged files."""
import numpy as np
import pytest

from segrepro.run.counts import CountStore, concat


def _counts(n, value=1):
    return {("psp_r18", "1", 20): {"inter": np.full((n, 3), value), "valid": np.full(n, 10 * value)},
            ("psp_r18", "1", 0): {"inter": np.zeros((n, 3), int), "valid": np.full(n, 10)}}


def test_round_trip_and_merge_of_targets(tmp_path):
    store = CountStore(tmp_path)
    store.save("abc", _counts(4), {"psp_r18": "aaa"})
    store.save("abc", {("fcn8s_vgg16", "ms", 20): {"inter": np.ones((4, 3), int)}}, {"fcn8s_vgg16": "bbb"})
    got = store.load("abc")
    assert set(got) == {("psp_r18", "1", 20), ("psp_r18", "1", 0), ("fcn8s_vgg16", "ms", 20)}
    assert got[("psp_r18", "1", 20)]["inter"].shape == (4, 3) and store.has("abc")
    assert (store.fingerprint("abc", "psp_r18"), store.fingerprint("abc", "fcn8s_vgg16")) == ("aaa", "bbb")
    assert store.fingerprint("abc", "dlv3_r18") == "" and store.fingerprint("zzz", "psp_r18") is None
    store.save("abc", _counts(4, 5), {"psp_r18": "ccc"})  # a new checkpoint replaces that target's counts
    assert store.load("abc")[("psp_r18", "1", 20)]["valid"].tolist() == [50] * 4
    assert store.fingerprint("abc", "psp_r18") == "ccc" and store.fingerprint("abc", "fcn8s_vgg16") == "bbb"


def test_partial_checkpoint_resumes_and_is_removed_by_the_final_save(tmp_path):
    store = CountStore(tmp_path)
    assert store.load_partial("c") == ({}, [], {})
    store.save_partial("c", _counts(2), [3], {"seconds": 1.5})
    counts, done, info = store.load_partial("c")
    assert done == [3] and info == {"seconds": 1.5} and counts[("psp_r18", "1", 20)]["valid"].tolist() == [10, 10]
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
    assert store.load_partial("d") == ({}, [], {})  # a damaged checkpoint only costs recomputation
    with pytest.raises(FileNotFoundError, match="no per-image counts for cell zz"):
        store.load("zz")
