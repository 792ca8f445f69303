"""The grid runner under ``torchrun --nproc_per_node 2`` (gloo, CPU) gives exactly the 1-process table.

Grid at the smoke profile's scale (fcn8s_vgg16 and psp_r18 at width 8, 64-px ``shapes`` images,
12 images in batches of 4, bim and ds, 4 steps with snapshots 2 and 4) with seeded random-init models,
so no training is needed: 2 sources x 2 methods = four cells; each cell's three batches are sharded
across the two ranks. Only ``seconds_per_example`` (wall clock) may differ; the per-image counts are
bit-identical.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from segrepro.run.store import read_table

SCRIPT = textwrap.dedent("""
    import json, sys
    import torch
    torch.set_num_threads(1)
    from segrepro.data.synthetic import SyntheticSegmentation
    from segrepro.run.distributed import DistContext
    from segrepro.run.grid import GridSpec, run_grid
    from segrepro.run.store import ResultStore
    from segrepro.models import build

    out = sys.argv[1]
    ds = SyntheticSegmentation("shapes", "val", size=64, length=12)
    models = {}
    for i, name in enumerate(("fcn8s_vgg16", "psp_r18")):
        torch.manual_seed(i)
        models[name] = build(name, ds.num_classes, width=8).eval()
    spec = GridSpec(study="torchrun", preset="shapes", sources=tuple(models), targets=tuple(models),
                    methods=("bim", "ds"), eps=(0.03,), steps=4, snapshots=(2, 4), seeds=(0,),
                    n_images=12, batch_size=4)
    with DistContext.from_env(device="cpu") as ctx:
        report = run_grid(spec, ResultStore(f"{out}/table.csv"), models, ds.tensors(), device="cpu",
                          progress=False, dist=ctx)
        with open(f"{out}/report.rank{ctx.rank}.json", "w") as f:
            json.dump({"computed": report.computed, "world_size": ctx.world_size}, f)
""")


def _run(cmd, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", SEGREPRO_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_two_process_gloo_run_equals_one_process_run(tmp_path):
    script = tmp_path / "grid_script.py"
    script.write_text(SCRIPT)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _run([sys.executable, str(script), str(one)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          str(script), str(two)], tmp_path)

    reports = [json.loads((two / f"report.rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["computed"] for r in reports] == [4, 4] and {r["world_size"] for r in reports} == {2}
    assert json.loads((one / "report.rank0.json").read_text()) == {"computed": 4, "world_size": 1}
    assert sorted(p.name for p in two.glob("table*.csv")) == ["table.csv"]  # only rank 0 writes
    files = sorted(p.name for p in (one / "counts" / "torchrun").glob("*.npz"))
    assert len(files) == 4 + 2 and files == sorted(p.name for p in (two / "counts" / "torchrun").glob("*.npz"))
    for name in files:
        a, b = np.load(one / "counts" / "torchrun" / name), np.load(two / "counts" / "torchrun" / name)
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
        assert all(a[k].shape[0] == 12 for k in a.files if not k.startswith("__"))  # every image, once

    def table(folder):
        df = read_table(folder / "table.csv")
        df = df[df.metric != "seconds_per_example"]
        keys = [c for c in df.columns if c != "value"]
        return df.sort_values(keys).reset_index(drop=True)

    a, b = table(one), table(two)
    # 4 cells x (2 targets x 2 snapshots x 4 metrics + 2 pass counts) + 2 targets x 2 clean metrics
    assert len(a) == 4 * (2 * 2 * 4 + 2) + 2 * 2
    pd.testing.assert_frame_equal(a, b, check_exact=True)
