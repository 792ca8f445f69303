"""Cityscapes loader on a generated tree: label-id -> train-id mapping, resize policy, errors."""
import numpy as np
import pytest
import torch

from segrepro.data.cityscapes import CityscapesDataset, label_id_to_train_id
from segrepro.data.fixtures import make_fake_cityscapes


@pytest.fixture(scope="module")
def cs_root(tmp_path_factory):
    return make_fake_cityscapes(tmp_path_factory.mktemp("cityscapes"), n=3, size=(64, 128))


def test_official_label_to_train_id_table():
    lut = label_id_to_train_id()
    # road 7->0, sidewalk 8->1, building 11->2, sky 23->10, person 24->11, car 26->13, bicycle 33->18
    assert [lut[i] for i in (7, 8, 11, 23, 24, 26, 33)] == [0, 1, 2, 10, 11, 13, 18]
    # void 0..6, parking 9, rail track 10, guard rail 14, polegroup 18, caravan 29, trailer 30; beyond 33
    assert all(lut[i] == 255 for i in (0, 1, 6, 9, 10, 14, 15, 16, 18, 29, 30, 34, 254))
    assert sorted(set(lut.tolist()) - {255}) == list(range(19))


def test_attributes_and_sorted_files(cs_root):
    ds = CityscapesDataset(cs_root, "val")
    assert (len(ds), ds.num_classes, ds.ignore_index) == (3, 19, 255)
    assert ds.class_names[0] == "road" and ds.class_names[13] == "car" and ds.class_names[18] == "bicycle"
    assert ds.palette[0].tolist() == [128, 64, 128]
    assert [p.split("/")[-1] for p in ds.image_paths] == [f"frankfurt_000000_00000{i}_leftImg8bit.png"
                                                         for i in range(3)]


def test_native_item_maps_ids_to_train_ids(cs_root):
    image, label = CityscapesDataset(cs_root, "val")[0]  # k = 3 -> box id 26 (car -> 13)
    assert image.shape == (3, 64, 128) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    expected = np.empty((64, 128), dtype=np.int64)
    expected[0:16], expected[16:32], expected[32:48], expected[48:64] = 10, 2, 0, 255
    expected[32:48, 32:64] = 13
    assert label.dtype == torch.int64 and np.array_equal(label.numpy(), expected)


def test_int_size_keeps_the_one_to_two_aspect(cs_root):
    _, label = CityscapesDataset(cs_root, "train", size=16)[1]  # k = 1 -> box id 24 (person -> 11)
    expected = np.empty((16, 32), dtype=np.int64)  # nearest picks source pixel 4i
    expected[0:4], expected[4:8], expected[8:12], expected[12:16] = 10, 2, 0, 255
    expected[8:12, 8:16] = 11
    assert np.array_equal(label.numpy(), expected)
    x, y = CityscapesDataset(cs_root, "train", size=(8, 12), length=2).tensors()
    assert x.shape == (2, 3, 8, 12) and y.shape == (2, 8, 12)


def test_wrong_split(cs_root):
    with pytest.raises(ValueError, match=r"valid: \['train', 'val', 'test'\]"):
        CityscapesDataset(cs_root, "train_extra")


def test_missing_root_and_wrong_structure(tmp_path):
    with pytest.raises(FileNotFoundError, match="leftImg8bit/.*gtFine"):
        CityscapesDataset(tmp_path / "nowhere", "val")
    root = make_fake_cityscapes(tmp_path / "cs", n=1, size=(8, 16))
    with pytest.raises(FileNotFoundError, match=r"gtFine/test"):
        (root / "leftImg8bit" / "test").mkdir()
        CityscapesDataset(root, "test")
    (root / "gtFine/test").mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*_leftImg8bit.png"):
        CityscapesDataset(root, "test")
    (root / "gtFine/val/frankfurt/frankfurt_000000_000000_gtFine_labelIds.png").unlink()
    with pytest.raises(FileNotFoundError, match="gtFine_labelIds.png"):
        CityscapesDataset(root, "val")


def test_reachable_through_get_dataset(cs_root):
    from segrepro.data import get_dataset

    ds = get_dataset("cityscapes", "val", root=cs_root, size=8)
    assert isinstance(ds, CityscapesDataset) and ds[0][1].shape == (8, 16)
