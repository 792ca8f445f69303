"""The ``paper`` profile's real-data path: model specs, the Zoo on a generated VOC tree, its errors, and
the runner plus a notebook end to end (what a user with VOC and checkpoints runs, at fixture scale)."""
import json
import math
import os
from pathlib import Path

import pytest
import torch

from segrepro.data.fixtures import make_fake_cityscapes, make_fake_voc
from segrepro.models import build, save_checkpoint
from segrepro.models.sources import ModelSpec, check_contract, load_spec, parse_spec
from segrepro.models.torchvision import TorchvisionSegModel, build_torchvision
from segrepro.run import zoo as zoo_mod
from segrepro.run.profiles import get_profile, parse_override
from segrepro.run.zoo import Zoo

torch.set_num_threads(1)
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
N_VAL = 4  # make_fake_voc(n=4): val images are k = 4..7, each one rectangle of class 1 + k % 20


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory):
    return make_fake_voc(tmp_path_factory.mktemp("voc"), n=N_VAL, size=(40, 56))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Random-init weights of a torchvision LR-ASPP and of a small zoo PSPNet, and a zoo checkpoint that
    always predicts background."""
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    lraspp = build_torchvision("lraspp_mobilenet_v3_large", 21)
    torch.save(lraspp.net.state_dict(), folder / "lraspp.pth")
    save_checkpoint(build("psp_r18", 21, width=4), folder / "psp.pt", {"note": "random init"})
    bg = build("psp_r18", 21, width=4)
    with torch.no_grad():  # constant logits: class 0 everywhere, whatever the input
        bg.classifier.weight.zero_()
        bg.classifier.bias.zero_()
        bg.classifier.bias[0] = 1.0
    save_checkpoint(bg, folder / "bg.pt", {"note": "constant background"})
    return {"lraspp": folder / "lraspp.pth", "psp": folder / "psp.pt", "bg": folder / "bg.pt",
            "lraspp_state": lraspp.net.state_dict()}


def specs(files) -> dict:
    return {"lraspp": f"tv:lraspp_mobilenet_v3_large={files['lraspp']}", "psp": f"zoo:{files['psp']}",
            "bg": f"zoo:{files['bg']}"}


def set_text(value) -> str:
    """A value as written after ``--set field=`` on the command line."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return json.dumps(value) if isinstance(value, (dict, bool)) else str(value)


def paper(voc_root, files, **kw):
    base = dict(data_root=str(voc_root), image_size=32, device="cpu", amp=False, channels_last=False, at_models=(),
                sources=("lraspp",), targets=("lraspp", "bg"), n_images=2, batch_size=2, checkpoints=specs(files))
    return get_profile("paper", **{**base, **kw})


# ----------------------------------------------------------------- profile and specs

def test_paper_profile_carries_the_papers_settings():
    p = get_profile("paper")
    assert (p.presets, p.eps, p.alpha, p.steps, p.n_images, p.image_size) == (("voc",), (0.03,), 0.01, 1000, 1449, 512)
    assert p.snapshots[-1] == 1000 and p.long_steps == 10000 and len(p.seeds) == 3
    assert (p.device, p.amp, p.channels_last, dict(p.checkpoints), p.models) == ("cuda", True, True, {}, ())


def test_checkpoints_and_channels_last_from_the_command_line():
    base = get_profile("paper")
    text = 'checkpoints={"psp_r50": "mmseg:/c/psp.py=/w/psp.pth", "dlv3_r50": "tv:deeplabv3_resnet50"}'
    assert parse_override(text, base) == ("checkpoints", {"psp_r50": "mmseg:/c/psp.py=/w/psp.pth",
                                                          "dlv3_r50": "tv:deeplabv3_resnet50"})
    assert parse_override("channels_last=false", base) == ("channels_last", False)


@pytest.mark.parametrize("text, expected", [
    ("zoo:/ckpt/psp.pt", ModelSpec("zoo", path="/ckpt/psp.pt")),
    ("/ckpt/psp.pt", ModelSpec("zoo", path="/ckpt/psp.pt")),
    ("tv:deeplabv3_resnet50", ModelSpec("tv", arch="deeplabv3_resnet50")),
    ("tv:fcn_resnet50=/w/a=b.pth", ModelSpec("tv", path="/w/a=b.pth", arch="fcn_resnet50")),
    ("mmseg:/cfg/x=1.py=/w/psp.pth", ModelSpec("mmseg", path="/w/psp.pth", config="/cfg/x=1.py")),
    ("mmseg:pspnet/psp_voc.py=/w/psp.pth", ModelSpec("mmseg", path="/w/psp.pth", config="pspnet/psp_voc.py")),
])
def test_parse_spec(text, expected):
    assert parse_spec(text) == expected


@pytest.mark.parametrize("text, error, match", [
    ("hub:resnet", ValueError, "unknown model spec.*valid forms"),
    ("tv:resnet50", ValueError, "unknown torchvision model 'resnet50'.*deeplabv3_resnet50"),
    ("mmseg:/cfg/psp.py", ValueError, "must read 'mmseg:<config.py>=<checkpoint.pth>'"),
    ("tv:", ValueError, "names no file"),
    (3, TypeError, "must be a string"),
])
def test_parse_spec_errors(text, error, match):
    with pytest.raises(error, match=match):
        parse_spec(text)


def test_load_spec_checks_files_and_class_counts(files, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_spec(f"zoo:{tmp_path / 'missing.pt'}", 21)
    with pytest.raises(ValueError, match="does not fit lraspp_mobilenet_v3_large with num_classes=19"):
        load_spec(specs(files)["lraspp"], 19)
    with pytest.warns(UserWarning, match="randomly initialised"):
        assert load_spec("tv:lraspp_mobilenet_v3_large", 19).num_classes == 19


# ----------------------------------------------------------------- the Zoo on the fixture tree

def test_zoo_reads_voc_and_loads_every_spec(voc_root, files):
    zoo = Zoo(paper(voc_root, files), progress=False)
    images, labels = zoo.data("voc")
    assert images.shape == (2, 3, 32, 32) and labels.dtype == torch.int64
    for i, cls in enumerate((1 + N_VAL % 20, 2 + N_VAL % 20)):  # one rectangle of class 1 + k % 20, ring 255
        assert set(labels[i].unique().tolist()) == {0, cls, 255}
    tv = zoo.model("voc", "lraspp")
    assert isinstance(tv, TorchvisionSegModel) and tv.config["spec"] == specs(files)["lraspp"]
    for key, value in files["lraspp_state"].items():
        assert torch.equal(tv.net.state_dict()[key], value)
    with torch.no_grad():
        assert int(zoo.model("voc", "bg")(images).argmax(1).max()) == 0
    assert zoo.names_for("voc") == ("lraspp", "bg")


def test_zoo_reads_cityscapes_at_s_by_2s(tmp_path, files):
    root = make_fake_cityscapes(tmp_path / "cs", n=3, size=(64, 128))
    profile = get_profile("paper", presets=("cityscapes",), data_root=str(root), image_size=16, n_images=1,
                          device="cpu", checkpoints={"bg": f"zoo:{files['bg']}"})
    images, labels = Zoo(profile).data("cityscapes")
    assert images.shape == (1, 3, 16, 32)
    # bands of label ids 23 (sky), 11 (building), 7 (road), 1 (ego vehicle); val image k=3 has a car (id 26)
    # box: train ids sky 10, building 2, road 0, car 13; ego vehicle is not evaluated (255)
    assert set(labels[0].unique().tolist()) == {10, 2, 0, 13, 255}
    with pytest.raises(ValueError, match="has 21 classes but the dataset has 19"):
        Zoo(profile).model("cityscapes", "bg")  # a VOC checkpoint on Cityscapes


def test_channels_last_is_applied_to_loaded_models(voc_root, files):
    model = Zoo(paper(voc_root, files, channels_last=True), progress=False).model("voc", "bg")
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()


def test_data_errors(voc_root, files, tmp_path):
    with pytest.raises(ValueError, match="set profile.data_root"):
        Zoo(paper(voc_root, files, data_root=None)).data("voc")
    with pytest.raises(FileNotFoundError, match="PASCAL VOC not found.*Expected layout"):
        Zoo(paper(voc_root, files, data_root=str(tmp_path / "nowhere"))).data("voc")
    broken = make_fake_voc(tmp_path / "broken", n=1, size=(8, 8))
    (broken / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").unlink()  # a tree without the val split
    with pytest.raises(FileNotFoundError, match="val.txt"):
        Zoo(paper(broken, files)).data("voc")
    with pytest.raises(ValueError, match=f"voc val has {N_VAL} images, the profile wants n_images=9"):
        Zoo(paper(voc_root, files, n_images=9)).data("voc", 9)


def test_models_without_a_spec_are_an_error_not_trained(voc_root, files):
    profile = paper(voc_root, files, targets=("lraspp", "bg", "psp_r101", "dlv3_r101"))
    with pytest.raises(ValueError, match=r"\['psp_r101', 'dlv3_r101'\] have no checkpoint spec.*never trained"):
        Zoo(profile, progress=False).prepare()
    with pytest.raises(ValueError, match=r"\['psp_r101'\] have no checkpoint spec"):
        Zoo(profile, progress=False).model("voc", "psp_r101")


class _HalfSize(torch.nn.Module):
    num_classes = 21

    def forward(self, x):
        return torch.zeros(x.shape[0], 21, x.shape[2] // 2, x.shape[3] // 2)


def test_a_model_breaking_the_contract_is_rejected_on_load(voc_root, files, monkeypatch):
    monkeypatch.setattr(zoo_mod, "load_spec", lambda spec, n, device: _HalfSize())
    with pytest.raises(ValueError, match=r"model 'bg = zoo:.*' breaks the model contract"):
        Zoo(paper(voc_root, files), progress=False).model("voc", "bg")
    with pytest.raises(ValueError, match="breaks the model contract"):
        check_contract(_HalfSize(), torch.zeros(1, 3, 8, 8), 21)


def test_cuda_requested_where_none_exists(voc_root, files, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        Zoo(paper(voc_root, files, device="cuda"))
    assert Zoo(paper(voc_root, files, device=None)).device == torch.device("cpu")


@pytest.mark.slow  # importing mmseg and building a segmentor take seconds
def test_mmseg_spec_with_a_config_file(tmp_path):
    pytest.importorskip("mmseg", reason="needs the mmseg extra")
    from mmengine import Config

    from segrepro.models.mmseg import bundled_config, init_model

    cfg = Config.fromfile(bundled_config("pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py"))
    bn = dict(type="BN", requires_grad=True)
    cfg.model.backbone.update(depth=18, stem_channels=8, base_channels=8, norm_cfg=bn)
    cfg.model.decode_head.update(in_channels=64, channels=8, norm_cfg=bn, num_classes=21)
    cfg.model.auxiliary_head.update(in_channels=32, channels=8, norm_cfg=bn, num_classes=21)
    cfg.dump(str(tmp_path / "tiny_psp.py"))
    ckpt = tmp_path / "tiny_psp.pth"
    torch.save({"state_dict": init_model(cfg, None).segmentor.state_dict(), "meta": {}}, ckpt)
    model = load_spec(f"mmseg:{tmp_path / 'tiny_psp.py'}={ckpt}", 21)
    check_contract(model, torch.rand(1, 3, 32, 32), 21)
    with pytest.raises(ValueError, match="has 21 classes but the dataset has 19"):
        load_spec(f"mmseg:{tmp_path / 'tiny_psp.py'}={ckpt}", 19)
    with pytest.raises(FileNotFoundError, match="no bundled mmseg config"):
        load_spec(f"mmseg:nowhere/psp.py={ckpt}", 21)


def test_stored_nan_values_read_back(tmp_path):
    from segrepro.run.store import ResultStore, read_table

    row = dict(study="setup", preset="voc", grid="clean", cell="c1", source="-", target="m", eval_scale="1",
               method="clean", params="{}", eps=0.0, iteration=0, seed=0, metric="train_seconds", value=float("nan"))
    ResultStore(tmp_path / "t.csv").add([row, {**row, "metric": "miou", "value": 0.5}])
    values = read_table(tmp_path / "t.csv")["value"].tolist()  # loaded models have no training time: NaN
    assert math.isnan(values[0]) and values[1] == 0.5


# ----------------------------------------------------------------- end to end

@pytest.mark.slow
def test_paper_profile_end_to_end_cli_and_notebook(voc_root, files, tmp_path, monkeypatch):
    """``segrepro run --profile paper --set ...`` then ``01_dynamic_scaling`` with papermill parameters.

    The source is the small zoo PSPNet (the attacks' cost is the source's); the torchvision model and
    the constant-background model are targets."""
    import papermill

    from segrepro.cli import main
    from segrepro.studies import load_results

    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    # the notebook's kernel starts in tmp_path: let it import this checkout's segrepro, as the tests do
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")])))
    overrides = dict(data_root=str(voc_root), image_size=32, device="cpu", amp=False, channels_last=False,
                     sources=["psp"], targets=["lraspp", "bg"], n_images=2, batch_size=2, steps=2, at_models=[],
                     snapshots=[1, 2], long_steps=2, seeds=[0], threads=1, checkpoints=specs(files),
                     train={"epochs": 1, "train_length": 32, "val_length": 8, "width": 4})
    argv = ["run", "--profile", "paper", "--only", "setup", "dynamic_scaling", "--no-progress"]
    assert main(argv + [a for key, value in overrides.items() for a in ("--set", f"{key}={set_text(value)}")]) == 0
    profile = get_profile("paper", **overrides)
    setup = load_results(profile, "setup")
    seconds = setup[setup.metric == "train_seconds"]
    assert len(seconds) == 3 and seconds["value"].isna().all()  # loaded, never trained
    df = load_results(profile, "dynamic_scaling")
    transfer = df[(df.grid == "transfer") & (df.preset == "voc")]
    assert set(transfer.method) == {"clean", "bim", "ds"} and set(transfer.target) == {"psp", "lraspp", "bg"}
    passes = transfer[transfer.metric == "backward_passes_per_example"]
    assert (passes["value"] == 2).all() and len(passes) == 2  # FS and DS: one backward per iteration and image
    # the constant-background target gives the same mIoU on every input: clean == adversarial, ASR 0
    bg = transfer[(transfer.target == "bg") & (transfer.metric == "miou")]["value"]
    assert bg.nunique() == 1
    assert (transfer[(transfer.target == "bg") & (transfer.metric == "asr")]["value"] == 0).all()

    out = tmp_path / "01_dynamic_scaling.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "01_dynamic_scaling.ipynb"), str(out),
                               parameters={"profile": "paper", "overrides": overrides, "n_visual": 1},
                               kernel_name="python3", language="python", progress_bar=False)
    assert len(load_results(profile, "dynamic_scaling")) == len(df)  # the notebook only read the stored table



def test_book_passes_set_lists_to_the_notebooks_as_lists(tmp_path, monkeypatch):
    """``segrepro book --set sources=a,b``: papermill would render the parsed tuple as a string."""
    from papermill.translators import PythonTranslator

    from segrepro.cli import resolve_profile
    from segrepro.book import build as book

    seen = {}
    monkeypatch.setattr(book, "execute_notebooks", lambda *a: seen.update(a[4]) or [])
    monkeypatch.setattr(book, "assemble", lambda *a: tmp_path)
    profile, overrides = resolve_profile("paper", ["sources=psp,bg", 'checkpoints={"psp": "zoo:/c/psp.pt"}'])
    book.build_book(profile, ["00_setup"], overrides=overrides, build=False)
    assert seen["overrides"] == {"sources": ["psp", "bg"], "checkpoints": {"psp": "zoo:/c/psp.pt"}}
    code = PythonTranslator.translate(seen["overrides"])  # the line papermill injects into the notebook
    assert get_profile("paper", **eval(code)).sources == ("psp", "bg")


def test_plan_prints_the_paper_profile_cost_on_the_fixture(voc_root, files, tmp_path, monkeypatch, capsys):
    """``segrepro plan --profile paper`` on CPU: cells, images, passes per study and a calibrated estimate."""
    from segrepro.cli import main

    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    overrides = dict(data_root=str(voc_root), image_size=32, device="cpu", amp=False, channels_last=False,
                     sources=["psp"], targets=["lraspp", "bg"], n_images=2, batch_size=2, steps=2, at_models=[],
                     snapshots=[1, 2], long_steps=2, seeds=[0], threads=1, checkpoints=specs(files))
    argv = ["plan", "--profile", "paper", "--only", "dynamic_scaling", "--no-progress"]
    assert main(argv + [a for key, value in overrides.items() for a in ("--set", f"{key}={set_text(value)}")]) == 0
    out = capsys.readouterr().out
    assert "dynamic_scaling" in out and "minutes" in out and "calibrated on CPU" in out
    assert "peak memory" in out and "independent of n_images" in out


def test_at_finetune_of_a_torchvision_spec_on_the_voc_fixture(voc_root, files, tmp_path, capsys):
    """``segrepro train --at tv:...`` writes weights in the input's format that load under the new spec."""
    from segrepro.cli import main
    from segrepro.models.sources import load_spec

    out = tmp_path / "lraspp_pgd3at.pth"
    argv = ["train", "--at", specs(files)["lraspp"], "--attack", "PGD", "--steps", "1", "--batch-size", "2", "--out", str(out),
            "--device", "cpu", "--no-progress", "--set", f"data_root={voc_root}", "--set", "image_size=32"]
    assert main(argv) == 0
    spec = capsys.readouterr().out.strip().splitlines()[-1]
    assert spec == f"tv:lraspp_mobilenet_v3_large={out}"
    tuned = load_spec(spec, 21)
    before = torch.load(files["lraspp"], weights_only=True)
    assert any(not torch.equal(before[k], v) for k, v in tuned.net.state_dict().items() if v.is_floating_point())
