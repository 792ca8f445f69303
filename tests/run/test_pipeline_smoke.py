"""The runner on the real stack at smoke scale: trained zoo, real attacks, the setup study and the CLI."""
import pandas as pd
import pytest
import torch

from segrepro.cli import main
from segrepro.run import GridSpec, ResultStore, get_profile, prepare, run_grid
from segrepro.studies import run_study


@pytest.mark.slow
def test_smoke_pipeline_real_stack(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    profile = get_profile("smoke")
    zoo = prepare(profile, progress=False)  # trains once into the shared cache, then loads
    spec = GridSpec(study="pipeline", preset="shapes", sources=("psp_r18",), targets=profile.targets,
                    methods=("bim", "ds"), eps=(0.06,), steps=profile.steps, snapshots=profile.snapshots,
                    n_images=profile.n_images, batch_size=profile.batch_size)
    store = ResultStore(tmp_path / "pipeline.csv")
    report = run_grid(spec, store, zoo.models("shapes"), zoo.data("shapes"), progress=False)
    assert report.computed == 2
    df = store.table
    white = df[(df.target == "psp_r18") & (df.method == "bim") & (df.metric == "miou")
               & (df.iteration == profile.steps)]["value"].iloc[0]
    clean = df[(df.target == "psp_r18") & (df.method == "clean") & (df.metric == "miou")]["value"].iloc[0]
    assert white < clean  # the white-box attack works through the runner
    passes = df[(df.method == "bim") & (df.metric == "backward_passes_per_example")]["value"].iloc[0]
    assert passes == profile.steps  # BIM: one backward per iteration and image
    assert run_grid(spec, ResultStore(tmp_path / "pipeline.csv"), zoo.models("shapes"), zoo.data("shapes"),
                    progress=False).computed == 0

    setup = run_study(profile, "setup", zoo=zoo, progress=False)
    assert set(setup.target) == set(zoo.names) and set(setup.metric) == {"miou", "pixel_accuracy", "train_seconds"}

    assert main(["run", "--profile", "smoke", "--only", "setup", "--no-progress"]) == 0
    timings = pd.read_csv(tmp_path / "results" / "smoke" / "timings.csv")
    assert list(timings.stage) == ["prepare", "setup", "total"]
    assert timings.set_index("stage").loc["setup", "rows"] == 0  # everything was stored by run_study
