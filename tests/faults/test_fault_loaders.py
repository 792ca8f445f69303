"""Faults of the checkpoint and mmseg loaders: every bad file is an error naming its path."""
import re
import sys

import pytest
import torch

from segrepro.models import build, load_checkpoint, save_checkpoint


@pytest.fixture
def good(tmp_path):
    return save_checkpoint(build("psp_r18", 3, 4), tmp_path / "good.pt", {"key": "k"})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"checkpoint not found: {re.escape(str(tmp_path / 'no.pt'))}$"):
        load_checkpoint(tmp_path / "no.pt")


def test_folder_instead_of_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(tmp_path))} \(that is a folder\)"):
        load_checkpoint(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=rf"corrupt checkpoint {re.escape(str(tmp_path / 'empty.pt'))}: "
                                         r"the file is empty \(0 bytes\)"):
        load_checkpoint(tmp_path / "empty.pt")


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValueError, match=rf"corrupt checkpoint {re.escape(str(path))}: "):
        load_checkpoint(path)


def test_truncated_file(good, tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(ValueError, match=rf"corrupt checkpoint {re.escape(str(path))}: .*zip archive"):
        load_checkpoint(path)


class Payload:
    """Unpickling this would create ``marker``: a stand-in for code a malicious file runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_of_arbitrary_objects_is_refused_and_nothing_runs(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "evil.pt"
    torch.save({"format": "segrepro-checkpoint/1", "config": {"name": "psp_r18"}, "state_dict": Payload(marker)}, path)
    with pytest.raises(ValueError, match=rf"refused checkpoint {re.escape(str(path))}: it pickles objects other "
                                         r"than tensors and plain data.*GLOBAL"):
        load_checkpoint(path)
    assert not marker.exists()


def test_not_a_segrepro_checkpoint(tmp_path):
    torch.save({"format": "segrepro-checkpoint/1", "state_dict": {}, "config": "psp_r18"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match=r"not a segrepro-checkpoint/1 file"):
        load_checkpoint(tmp_path / "x.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("where", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_map_location_without_cuda_says_so(good, where):
    with pytest.raises(RuntimeError, match=rf"cannot load checkpoint {re.escape(str(good))} .*CUDA is not available"):
        load_checkpoint(good, map_location=where)


# --- mmseg adapter -------------------------------------------------------------------------------

def test_missing_mmseg_config_file_is_reported_as_a_missing_file(tmp_path):
    mmseg = pytest.importorskip("segrepro.models.mmseg")
    pytest.importorskip("mmseg")
    (tmp_path / "mine_a.py").write_text("model = dict()\n")
    missing = tmp_path / "mine_b.py"
    with pytest.raises(FileNotFoundError, match=rf"mmseg config file {re.escape(str(missing))} does not exist") as info:
        mmseg.init_model(str(missing), None)
    with pytest.raises(FileNotFoundError, match=rf"mmseg config file {re.escape(str(missing))} does not exist") as info2:
        mmseg.bundled_config(str(missing))  # how a model spec resolves a config that is not a file
    for err in (info.value, info2.value):  # the user's own folder is never listed as bundled configs
        assert "mine_a.py" not in str(err) and "holds e.g." not in str(err)


def test_unknown_bundled_config_lists_the_bundled_folder():
    mmseg = pytest.importorskip("segrepro.models.mmseg")
    pytest.importorskip("mmseg")
    with pytest.raises(FileNotFoundError, match=r"no bundled mmseg config 'pspnet/nope.py' under .*configs; "
                                                r"that folder holds e.g. \['pspnet_"):
        mmseg.bundled_config("pspnet/nope.py")


def test_torch_outside_the_tested_range_is_named():
    from segrepro.models.mmseg import TESTED_TORCH, torch_untested

    lo, hi = TESTED_TORCH
    assert torch_untested(f"{lo[0]}.{lo[1]}.0") is None and torch_untested(f"{hi[0]}.{hi[1]}.9+cu130") is None
    message = torch_untested(f"{hi[0]}.{hi[1] + 1}.0")
    assert message.startswith(f"torch {hi[0]}.{hi[1] + 1}.0 is installed") and f"tested with torch {lo[0]}.{lo[1]}" in message


def test_mmseg_use_under_an_untested_torch_warns(monkeypatch):
    mmseg = pytest.importorskip("segrepro.models.mmseg")
    pytest.importorskip("mmseg.apis")
    monkeypatch.setattr(torch, "__version__", "9.1.0")
    with pytest.warns(UserWarning, match=r"torch 9.1.0 is installed, but the mmseg extra .* was tested with torch"):
        mmseg._import_mmseg_init()


def test_broken_mmseg_import_names_both_torch_versions(monkeypatch):
    mmseg = pytest.importorskip("segrepro.models.mmseg")
    pytest.importorskip("mmseg")
    monkeypatch.setattr(torch, "__version__", "9.1.0")
    monkeypatch.setitem(sys.modules, "mmseg.apis", None)  # as when mmcv's compiled ops do not load
    with pytest.raises(ImportError, match=r"mmseg is installed but does not import .*torch 9.1.0 is installed, "
                                          r"but the mmseg extra .* was tested with torch .*rebuild mmcv"):
        mmseg._import_mmseg_init()


def test_mmseg_extra_missing_says_how_to_install(monkeypatch):
    mmseg = pytest.importorskip("segrepro.models.mmseg")
    monkeypatch.setitem(sys.modules, "mmseg", None)
    monkeypatch.setitem(sys.modules, "mmseg.apis", None)
    with pytest.raises(ImportError, match=r"needs the mmseg extra: pip install -e '.\[mmseg\]'"):
        mmseg._import_mmseg_init()
