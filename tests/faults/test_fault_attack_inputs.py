"""Faults at the attack's entry: bad images, dtypes, grad modes, labels, numbers, names."""
import pytest
import torch

from segrepro.attacks import attack, available


def run(model, x, y, **kw):
    return attack(model, x, y, "bim", **{"eps": 0.03, "alpha": 0.01, "steps": 2, **kw})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_images_are_rejected(model, batch, value):
    x, y = batch
    x[1, 2, 3, 4] = value
    with pytest.raises(ValueError, match=r"images hold 1 NaN or Inf value"):
        run(model, x, y)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_dtypes_are_cast_to_the_model_dtype(model, batch, dtype):
    x, y = batch
    x = x.to(dtype)
    adv = run(model, x, y)
    # the documented recovery: the same attack as on the image cast to the model's float32
    assert adv.dtype == torch.float32
    assert torch.equal(adv, run(model, x.float(), y))
    assert (adv - x.float()).abs().max() <= 0.03 + 1e-6


def test_attack_inside_no_grad_works_and_leaves_grad_mode_off(model, batch):
    x, y = batch
    expected = run(model, x, y)
    with torch.no_grad():
        adv = run(model, x, y)
        assert not torch.is_grad_enabled()
    assert torch.equal(adv, expected)


def test_attack_inside_inference_mode_works(model, batch):
    x, y = batch
    expected = run(model, x, y)
    with torch.inference_mode():
        adv = run(model, x, y)
    assert torch.equal(adv, expected)


def test_attack_on_tensors_made_in_inference_mode(model, batch):
    x, y = batch
    expected = run(model, x, y)
    with torch.inference_mode():
        xi, yi = x.clone(), y.clone()
    assert xi.is_inference() and yi.is_inference()
    adv = run(model, xi, yi)  # outside inference mode: the inference tensors are cloned inside
    assert torch.equal(adv, expected) and not adv.is_inference()


def test_attack_keeps_each_modules_own_mode(model, batch):
    model.train()
    model.body[1].eval()  # a frozen BN inside a model in train mode
    run(model, *batch)
    assert model.training and model.body[0].training and not model.body[1].training


@pytest.mark.parametrize("bad, error, message", [
    (lambda y: y[:, :8], ValueError, r"labels of shape \(2, 8, 16\) do not match images"),
    (lambda y: y.float(), TypeError, r"labels must be int64 class ids, got dtype torch.float32"),
    (lambda y: y.int(), TypeError, r"labels must be int64 class ids, got dtype torch.int32"),
    (lambda y: y + 3, ValueError, r"labels hold values \[3, 4, 5\] outside 0..2 \(255 = ignore\)"),
    (lambda y: y - 1, ValueError, r"labels hold values \[-1\] outside 0..2"),
])
def test_bad_labels(model, batch, bad, error, message):
    x, y = batch
    with pytest.raises(error, match=message):
        run(model, x, bad(y))


@pytest.mark.parametrize("kw, error, message", [
    ({"eps": "0.03"}, TypeError, r"eps must be a real number, got str"),
    ({"eps": -1}, ValueError, r"eps must lie in \(0.0, 1.0\], got -1"),
    ({"alpha": -0.1}, ValueError, r"alpha must lie in \(0.0, inf\], got -0.1"),
    ({"alpha": True}, TypeError, r"alpha must be a real number, got bool"),
    ({"steps": 2.0}, TypeError, r"steps must be an int, got float"),
    ({"steps": None}, TypeError, r"steps must be an int, got NoneType"),
    ({"steps": 0}, ValueError, r"steps must be >= 1, got 0"),
    ({"snapshots": [2, 99]}, ValueError, r"snapshot iteration 99 is outside 1..steps=2"),
    ({"snapshots": 2}, TypeError, r"snapshots must be a list of iterations"),
])
def test_bad_numbers(model, batch, kw, error, message):
    with pytest.raises(error, match=message):
        run(model, *batch, **kw)


def test_unknown_method_lists_the_valid_ones(model, batch):
    with pytest.raises(ValueError, match=r"unknown method name\(s\) \['foo'\] in 'ds\+foo'") as info:
        attack(model, *batch, "ds+foo", steps=2)
    assert all(repr(name) in str(info.value) for name in available())


def test_unknown_method_parameter_lists_the_valid_ones(model, batch):
    with pytest.raises(TypeError, match=r"got unknown parameter\(s\) \['decy'\]; valid parameters: "
                                        r"\['amp', 'decay', 'random_start', 'step'\]"):
        attack(model, *batch, "mi", steps=2, decy=0.5)
