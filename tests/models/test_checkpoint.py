import pytest
import torch

from segrepro.models import build, load_checkpoint, save_checkpoint


@pytest.fixture
def trained(tmp_path):
    torch.manual_seed(0)
    model = build("psp_r18", num_classes=4, width=4)
    model.train()(torch.rand(4, 3, 32, 32))  # moves the BN running statistics away from their defaults
    path = save_checkpoint(model.eval(), tmp_path / "m.pt", {"preset": "shapes", "val_miou": 0.5})
    return model, path


def test_round_trip_rebuilds_identical_model(trained):
    model, path = trained
    x = torch.rand(2, 3, 64, 64)
    loaded = load_checkpoint(path)
    assert loaded.config == model.config and not loaded.training
    assert torch.equal(loaded(x), model(x))
    assert loaded.checkpoint_meta == {"preset": "shapes", "val_miou": 0.5}


def test_load_into_given_model(trained):
    model, path = trained
    fresh = build("psp_r18", num_classes=4, width=4)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(load_checkpoint(path, fresh)(x), model(x))


def test_file_loads_with_weights_only_and_has_format_tag(trained):
    payload = torch.load(trained[1], weights_only=True)
    assert payload["format"] == "segrepro-checkpoint/1"
    assert payload["config"] == {"name": "psp_r18", "num_classes": 4, "width": 4}


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_checkpoint(tmp_path / "nothere.pt")


def test_truncated_file(trained, tmp_path):
    data = trained[1].read_bytes()
    bad = tmp_path / "cut.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        load_checkpoint(bad)


def test_garbage_file(tmp_path):
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        load_checkpoint(bad)


def test_torch_file_that_is_not_a_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a segrepro-checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_other_architecture(trained):
    with pytest.raises(ValueError, match="psp_r18.*dlv3_r18"):
        load_checkpoint(trained[1], build("dlv3_r18", num_classes=4, width=4))


def test_other_class_count(trained):
    with pytest.raises(ValueError, match="num_classes=4.*num_classes=7"):
        load_checkpoint(trained[1], build("psp_r18", num_classes=7, width=4))


def test_meta_must_be_json_like(tmp_path):
    with pytest.raises(TypeError, match="object"):
        save_checkpoint(build("psp_r18", 2, width=4), tmp_path / "m.pt", {"bad": object()})


def test_save_is_atomic_no_temp_left(trained):
    assert [p.name for p in trained[1].parent.iterdir()] == ["m.pt"]
