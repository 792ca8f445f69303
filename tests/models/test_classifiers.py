import pytest
import torch

from segrepro.models import build_classifier, load_checkpoint, save_checkpoint


@pytest.mark.parametrize("name", ["vgg16_cls", "r18_cls"])
def test_classifier_shapes_and_gradient(name):
    model = build_classifier(name, num_classes=4, width=4)
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, 4)
    logits.sum().backward()
    assert x.grad.abs().sum() > 0
    assert model.config == {"name": name, "num_classes": 4, "width": 4}


def test_unknown_classifier_lists_valid_names():
    with pytest.raises(ValueError, match="r18_cls"):
        build_classifier("alexnet", 3)


def test_classifier_checkpoint_round_trip(tmp_path):
    model = build_classifier("r18_cls", num_classes=3, width=4).eval()
    x = torch.rand(2, 3, 32, 32)
    save_checkpoint(model, tmp_path / "c.pt", {"task": "classification"})
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(loaded(x), model(x))
