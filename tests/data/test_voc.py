"""VOC loader on a generated VOC tree, through torchvision's reader (see segrepro.data.fixtures for the contents)."""
import numpy as np
import pytest
import torch
from PIL import Image

from segrepro.data.fixtures import make_fake_voc
from segrepro.data.voc import VOC_CLASSES, VOCSegmentationDataset, voc_palette


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory):
    return make_fake_voc(tmp_path_factory.mktemp("voc"), n=4, size=(64, 80))


def test_split_sizes_and_attributes(voc_root):
    sizes = {s: len(VOCSegmentationDataset(voc_root, s)) for s in ("train", "val", "trainval", "trainaug")}
    assert sizes == {"train": 4, "val": 4, "trainval": 8, "trainaug": 8}
    ds = VOCSegmentationDataset(voc_root, "val")
    assert (ds.num_classes, ds.ignore_index, len(ds.class_names)) == (21, 255, 21)
    assert ds.class_names[0] == "background" and ds.class_names[15] == "person" and VOC_CLASSES[20] == "tvmonitor"


def test_palette_is_the_voc_colour_map():
    pal = voc_palette()
    assert pal[0].tolist() == [0, 0, 0] and pal[1].tolist() == [128, 0, 0] and pal[15].tolist() == [192, 128, 128]
    assert pal[255].tolist() == [224, 224, 192]


def test_native_item_reads_palette_indices_and_boundary(voc_root):
    image, label = VOCSegmentationDataset(voc_root, "val")[1]  # k = 5 -> class 6 (bus)
    assert image.dtype == torch.float32 and image.shape == (3, 64, 80)
    assert 0 <= image.min() and image.max() <= 1
    expected = np.zeros((64, 80), dtype=np.int64)
    expected[16:48, 20:60] = 255
    expected[17:47, 21:59] = 6
    assert label.dtype == torch.int64 and np.array_equal(label.numpy(), expected)
    # image colour of class 6 is palette[6] = (0, 128, 128) up to +-12 noise and JPEG loss
    assert torch.allclose(image[:, 32, 40], torch.tensor([0, 128, 128]) / 255, atol=0.12)
    assert torch.allclose(image[:, 2, 2], torch.full((3,), 128 / 255), atol=0.12)


def test_eval_resize_shorter_side_then_centre_crop(voc_root):
    # 64x80 -> shorter side 32 -> 32x40 (nearest picks source pixel 2i) -> centre crop columns 4..35
    image, label = VOCSegmentationDataset(voc_root, "train", size=32)[0]  # k = 0 -> class 1
    expected = np.zeros((32, 32), dtype=np.int64)
    expected[8:24, 6:26] = 255
    expected[9:24, 7:26] = 1
    assert image.shape == (3, 32, 32) and np.array_equal(label.numpy(), expected)
    x, y = VOCSegmentationDataset(voc_root, "train", size=(16, 24), length=3).tensors()
    assert x.shape == (3, 3, 16, 24) and y.shape == (3, 16, 24) and y.dtype == torch.int64


def test_trainaug_reads_sbd_labels_and_extras(voc_root):
    ds = VOCSegmentationDataset(voc_root, "trainaug")
    _, label = ds[4]  # first SBD-only image: k = 8 -> class 9
    assert set(label.unique().tolist()) == {0, 9, 255}
    custom = voc_root / "my_list.txt"
    custom.write_text("/JPEGImages/2008_000009.jpg /SegmentationClassAug/2008_000009.png\n")
    _, label = VOCSegmentationDataset(voc_root, "trainaug", sbd_list=custom)[0]
    assert set(label.unique().tolist()) == {0, 10, 255}


def test_length_keeps_the_first_images(voc_root):
    assert len(VOCSegmentationDataset(voc_root, "trainval", length=3)) == 3
    assert len(VOCSegmentationDataset(voc_root, "trainval", length=100)) == 8
    with pytest.raises(ValueError, match="length"):
        VOCSegmentationDataset(voc_root, "val", length=0)


def test_wrong_split_lists_valid_ones(voc_root):
    with pytest.raises(ValueError, match=r"valid: \['train', 'val', 'trainval', 'trainaug'\]"):
        VOCSegmentationDataset(voc_root, "test")


def test_missing_root_names_expected_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="VOCdevkit/VOC2012/JPEGImages"):
        VOCSegmentationDataset(tmp_path / "nowhere", "val")


def test_wrong_structure(tmp_path):
    root = make_fake_voc(tmp_path / "broken", n=1, size=(8, 8))
    (root / "VOCdevkit/VOC2012/ImageSets/Segmentation/train_aug.txt").unlink()
    with pytest.raises(FileNotFoundError, match="train_aug.txt"):
        VOCSegmentationDataset(root, "trainaug")
    (root / "VOCdevkit/VOC2012/SegmentationClass/2008_000001.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 listed file"):
        VOCSegmentationDataset(root, "val")
    for p in (root / "VOCdevkit/VOC2012/SegmentationClass").iterdir():
        p.unlink()
    (root / "VOCdevkit/VOC2012/SegmentationClass").rmdir()
    with pytest.raises(FileNotFoundError, match="SegmentationClass"):
        VOCSegmentationDataset(root, "train")


def test_colour_label_png_is_rejected(tmp_path):
    root = make_fake_voc(tmp_path / "rgb", n=1, size=(8, 8))
    Image.new("RGB", (8, 8), (128, 0, 0)).save(root / "VOCdevkit/VOC2012/SegmentationClass/2008_000000.png")
    with pytest.raises(ValueError, match="class-id PNGs"):
        VOCSegmentationDataset(root, "train")[0]


def test_bad_size(voc_root):
    with pytest.raises(ValueError, match="size"):
        VOCSegmentationDataset(voc_root, "val", size=(0, 4))


def test_reachable_through_get_dataset(voc_root):
    from segrepro.data import get_dataset

    ds = get_dataset("voc", "val", root=voc_root, size=16)
    assert isinstance(ds, VOCSegmentationDataset) and ds[0][1].shape == (16, 16)
