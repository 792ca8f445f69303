"""Faults of predict/evaluate: module modes, batch sizes, data shapes, empty data, labels, dtypes."""
import pytest
import torch

from segrepro.metrics import evaluate, predict


def freeze_bn(model):
    """A user's setup: the model trains, its BN layer is frozen in eval mode."""
    model.train()
    model.body[1].eval()
    return model


def modes(model):
    return {name: m.training for name, m in model.named_modules()}


def test_predict_restores_each_modules_own_mode(model, batch):
    model = freeze_bn(model)
    before = modes(model)
    predict(model, batch[0])
    assert modes(model) == before and before["body.1"] is False and before[""] is True


def test_evaluate_restores_each_modules_own_mode(model, batch):
    model = freeze_bn(model)
    before = modes(model)
    evaluate(model, batch, batch_size=1)
    assert modes(model) == before


def test_predict_runs_in_eval_mode(model, batch):
    # the frozen-BN restore must not leave BN in train mode during the forward (batch statistics)
    expected = predict(model.eval(), batch[0])
    assert torch.equal(predict(freeze_bn(model), batch[0]), expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_predict_casts_images_to_the_model_dtype(model, batch, dtype):
    x = batch[0].to(dtype)
    assert torch.equal(predict(model, x), predict(model, x.float()))


@pytest.mark.parametrize("fn", ["predict", "evaluate"])
@pytest.mark.parametrize("size, error, message", [
    (0, ValueError, r"batch_size must be a positive int, got 0"),
    (-2, ValueError, r"batch_size must be a positive int, got -2"),
    (2.0, TypeError, r"batch_size must be a positive int, got float 2.0"),
])
def test_bad_batch_size(model, batch, fn, size, error, message):
    with pytest.raises(error, match=message):
        predict(model, batch[0], size) if fn == "predict" else evaluate(model, batch, size)


@pytest.mark.parametrize("container", [list, tuple])
def test_three_tensors_instead_of_a_pair(model, batch, container):
    x, y = batch
    with pytest.raises(TypeError, match=rf"data is a {container.__name__} of 3 tensors; pass an \(images, labels\) pair"):
        evaluate(model, container([x, y, y]))


@pytest.mark.parametrize("data", [[], "empty pair"])
def test_empty_data(model, batch, data):
    x, y = batch
    data = (x[:0], y[:0]) if data == "empty pair" else data
    with pytest.raises(ValueError, match=r"evaluate got no images: data \((list|tuple)\) is empty"):
        evaluate(model, data)


def test_labels_beyond_the_models_classes(model, batch):
    x, y = batch
    y[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r"labels hold values \[7\] outside 0..2 \(255 = ignore\)"):
        evaluate(model, (x, y))


def test_nan_images_in_evaluate(model, batch):
    x, y = batch
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        evaluate(model, (x, y))
