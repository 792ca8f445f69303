"""torchvision segmentation models behind the contract: no downloads, shapes, features, local weights."""
import pytest
import torch
import torch.nn.functional as F

from segrepro.models.torchvision import TORCHVISION_MODELS, TorchvisionSegModel, build_torchvision
from segrepro.models.wrap import IMAGENET_MEAN, IMAGENET_STD
from segrepro.validation import check_logits


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def lraspp():
    torch.manual_seed(0)
    return build_torchvision("lraspp_mobilenet_v3_large", num_classes=5)


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_every_name_is_built_without_downloads_or_aux_head(monkeypatch, name):
    from torchvision.models import segmentation

    seen = {}

    def fake_builder(**kw):
        seen.update(kw)
        raise RuntimeError("stop after recording the call")

    monkeypatch.setattr(segmentation, name, fake_builder)
    with pytest.raises(RuntimeError, match="stop after"):
        build_torchvision(name, num_classes=7)
    assert seen == {"weights": None, "weights_backbone": None, "num_classes": 7, "aux_loss": False}


def _check_contract(model, num_classes, feat_channels, feat_stride):
    x = torch.rand(2, 3, 64, 64)
    logits, feats = model.forward_with_features(x)
    check_logits(logits, x, num_classes)
    assert feats.shape == (2, feat_channels, 64 // feat_stride, 64 // feat_stride)
    # normalisation happens inside: the wrapper equals torchvision's own forward on normalised input
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        reference = model.net((x - mean) / std)["out"]
    torch.testing.assert_close(logits.detach(), reference)
    return x, logits, feats


@pytest.mark.parametrize("name,channels,stride", [  # ResNet-50 builds take 2-6 s on 2 cores
    pytest.param("fcn_resnet50", 512, 8, marks=pytest.mark.slow),
    pytest.param("deeplabv3_resnet50", 256, 8, marks=pytest.mark.slow),
    ("deeplabv3_mobilenet_v3_large", 256, 16)])
def test_sequential_heads_contract_and_features(name, channels, stride):
    model = build_torchvision(name, num_classes=3)
    assert isinstance(model, TorchvisionSegModel) and not model.training and model.net.aux_classifier is None
    assert model.config == {"name": name, "source": "torchvision", "num_classes": 3}
    _, logits, feats = _check_contract(model, 3, channels, stride)
    # the features are the input of the final 1x1 conv: applying it and upsampling gives the logits
    last = model.net.classifier[-1]
    torch.testing.assert_close(F.interpolate(last(feats), size=(64, 64), mode="bilinear"), logits)


def test_lraspp_contract_features_and_input_gradient(lraspp):
    x, logits, feats = _check_contract(lraspp, 5, 40 + 128, 8)
    head = lraspp.net.classifier
    weight = torch.cat([head.low_classifier.weight, head.high_classifier.weight], dim=1)
    bias = head.low_classifier.bias + head.high_classifier.bias
    torch.testing.assert_close(F.interpolate(F.conv2d(feats, weight, bias), size=(64, 64), mode="bilinear"),
                               logits)
    x = x.clone().requires_grad_(True)
    lraspp(x).logsumexp(1).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_local_weights_file_round_trip(tmp_path, lraspp):
    path = tmp_path / "lraspp.pth"
    # as a DataParallel-trained file with the training-only aux head: both are tolerated
    state = {f"module.{k}": v for k, v in lraspp.net.state_dict().items()}
    state["module.aux_classifier.0.weight"] = torch.zeros(1)
    torch.save({"model": state}, path)
    loaded = build_torchvision("lraspp_mobilenet_v3_large", num_classes=5, weights=str(path))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), lraspp(x))


def test_mismatching_weights_are_a_clear_error(tmp_path, lraspp):
    path = tmp_path / "five.pth"
    torch.save(lraspp.net.state_dict(), path)
    with pytest.raises(ValueError, match=r"num_classes=7: shape mismatch.*classifier"):
        build_torchvision("lraspp_mobilenet_v3_large", num_classes=7, weights=path)
    with pytest.raises(ValueError, match="missing keys"):
        build_torchvision("deeplabv3_mobilenet_v3_large", num_classes=5, weights=path)


def test_bad_weights_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no download"):
        build_torchvision("lraspp_mobilenet_v3_large", 5, weights=tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read weights file"):
        build_torchvision("lraspp_mobilenet_v3_large", 5, weights=tmp_path / "junk.pth")
    with pytest.raises(TypeError, match="never downloads"):
        build_torchvision("lraspp_mobilenet_v3_large", 5, weights=object())


def test_unknown_name_and_bad_class_count():
    with pytest.raises(ValueError, match=r"valid: \['fcn_resnet50'"):
        build_torchvision("fcn_resnet18", 21)
    with pytest.raises(ValueError, match="num_classes"):
        build_torchvision("fcn_resnet50", 0)
