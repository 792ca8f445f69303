"""Device resolution: the user-facing errors and the CPU fallbacks."""
import pytest
import torch
from torch import nn

from segrepro.devices import autocast, channels_last, resolve_device


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cpu_and_torch_device_accepted():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_auto_falls_back_to_cpu_without_cuda(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:1", torch.device("cuda:0")])
def test_cuda_requested_without_cuda_is_a_clear_error(no_cuda, spec):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device(spec)


def test_cuda_index_beyond_visible_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("cuda") == torch.device("cuda:0")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(RuntimeError, match=r"only 2 CUDA device\(s\).*cuda:0, cuda:1"):
        resolve_device("cuda:2")


def test_unknown_device_string_lists_valid_ones():
    with pytest.raises(ValueError, match="valid: 'auto', 'cpu'"):
        resolve_device("gpu")


def test_bad_type():
    with pytest.raises(TypeError, match="string or torch.device"):
        resolve_device(0)


def test_autocast_is_a_noop_on_cpu():
    with autocast("cpu", enabled=True):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
    assert torch.equal(y, torch.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="bfloat16"):
        with autocast("cpu", enabled=True, dtype="int8"):
            pass


def test_channels_last():
    x = torch.zeros(2, 3, 4, 5)
    assert channels_last(x).stride() == (60, 1, 15, 3)
    assert channels_last(x, enabled=False).stride() == (60, 20, 5, 1)
    conv = channels_last(nn.Conv2d(3, 4, 3))
    assert conv.weight.stride() == (27, 1, 9, 3)
    assert channels_last(torch.zeros(3)).shape == (3,)
    with pytest.raises(TypeError, match="nn.Module or a torch.Tensor"):
        channels_last([1, 2])
