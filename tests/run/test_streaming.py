"""Streaming cells: per-image counts, mid-cell resume after SIGKILL, content-keyed results."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from segrepro.metrics import metrics_from_counts
from segrepro.models import build, save_checkpoint
from segrepro.run import grid as grid_mod
from segrepro.run.counts import CountStore
from segrepro.run.grid import GridSpec, run_grid
from segrepro.run.store import read_table, ResultStore

SCRIPT = textwrap.dedent("""
    import sys, time
    import torch
    torch.set_num_threads(1)
    from segrepro.attacks import attack
    from segrepro.data.synthetic import SyntheticSegmentation
    from segrepro.models import build
    from segrepro.run.grid import GridSpec, run_grid
    from segrepro.run.store import ResultStore

    out, delay = sys.argv[1], float(sys.argv[2])
    ds = SyntheticSegmentation("shapes", "val", size=32, length=24)
    torch.manual_seed(0)
    model = build("psp_r18", ds.num_classes, width=4).eval()
    spec = GridSpec(study="s", preset="shapes", sources=("m",), targets=("m",), methods=("bim",), steps=3,
                    snapshots=(1, 3), n_images=24, batch_size=2)

    def slow_attack(*args, **kw):
        time.sleep(delay)
        return attack(*args, **kw)

    run_grid(spec, ResultStore(f"{out}/s.csv"), {"m": model}, ds, attack_fn=slow_attack, device="cpu",
             progress=False)
""")


def _spawn(script, out, delay):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, str(script), str(out), str(delay)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_mid_cell_resumes_from_the_checkpoint_with_the_same_numbers(tmp_path):
    script = tmp_path / "cell.py"
    script.write_text(SCRIPT)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()
    assert _spawn(script, whole, 0.0).wait(timeout=300) == 0

    proc = _spawn(script, killed, 0.5)
    partials = killed / "counts" / "s"
    deadline = time.time() + 240
    while not list(partials.glob("*.partial.npz")) and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(partials.glob("*.partial.npz")), "the cell never checkpointed"
    assert not (killed / "s.csv").exists() or read_table(killed / "s.csv").query("method != 'clean'").empty

    # resume in this process, counting the batches attacked
    from segrepro.attacks import attack
    from segrepro.data.synthetic import SyntheticSegmentation

    calls = []

    def counting(*args, **kw):
        calls.append(kw["seed"])
        return attack(*args, **kw)

    torch.manual_seed(0)
    ds = SyntheticSegmentation("shapes", "val", size=32, length=24)
    model = build("psp_r18", ds.num_classes, width=4).eval()
    spec = GridSpec(study="s", preset="shapes", sources=("m",), targets=("m",), methods=("bim",), steps=3,
                    snapshots=(1, 3), n_images=24, batch_size=2)
    run_grid(spec, ResultStore(killed / "s.csv"), {"m": model}, ds, attack_fn=counting, device="cpu", progress=False)
    assert 0 < len(calls) < 12  # only the batches after the checkpoint were recomputed

    def values(folder):
        df = read_table(folder / "s.csv")
        df = df[~df.metric.str.endswith("_per_example")]
        return df.sort_values(["cell", "target", "iteration", "metric"])["value"].to_numpy()

    np.testing.assert_array_equal(values(whole), values(killed))
    key = spec.cells()[0].key
    a, b = CountStore(whole / "counts" / "s").load(key), CountStore(killed / "counts" / "s").load(key)
    assert a.keys() == b.keys() and all(np.array_equal(a[k][f], b[k][f]) for k in a for f in a[k])
    assert not list(partials.glob("*.partial.npz"))


def _models(seed_a=0, seed_b=1):
    out = {}
    for name, seed in (("a", seed_a), ("b", seed_b)):
        torch.manual_seed(seed)
        out[name] = build("psp_r18", 10, width=4).eval()
    return out


def test_counts_reproduce_the_table_and_memory_stays_per_batch(tmp_path):
    from segrepro.data.synthetic import SyntheticSegmentation

    ds = SyntheticSegmentation("shapes", "val", size=32, length=8)
    spec = GridSpec(study="s", preset="shapes", sources=("a",), targets=("b",), methods=("bim",), steps=2,
                    snapshots=(1, 2), n_images=8, batch_size=4)
    store = ResultStore(tmp_path / "s.csv")
    run_grid(spec, store, _models(), ds, device="cpu", progress=False)
    cell = spec.cells()[0]
    counts = CountStore(tmp_path / "counts" / "s").load(cell.key)
    row = store.table.query("target == 'b' and iteration == 2 and metric == 'miou'")["value"].item()
    assert metrics_from_counts(counts[("b", "1", 2)])["miou"] == pytest.approx(row)
    assert counts[("b", "1", 2)]["inter"].shape == (8, 10)  # per image, per class


def test_replacing_a_checkpoint_behind_a_name_recomputes_its_cells(tmp_path):
    from segrepro.data.synthetic import SyntheticSegmentation

    ds = SyntheticSegmentation("shapes", "val", size=32, length=4)
    spec = GridSpec(study="s", preset="shapes", sources=("a", "b"), targets=("a", "b"), methods=("bim",), steps=2,
                    n_images=4, batch_size=4)
    store = ResultStore(tmp_path / "s.csv")
    fps = {"a": "A1", "b": "B1"}
    run = lambda models: run_grid(spec, store, models, ds, device="cpu", progress=False,  # noqa: E731
                                  fingerprint=lambda n: fps[n])
    assert run(_models()).computed == 2
    assert run(_models()).computed == 0  # same weights: everything is reused
    before = store.table
    fps["b"] = "B2"  # a new checkpoint behind "b"
    report = run(_models(seed_b=7))
    # the cell made on b has a new key (recomputed whole); the cell made on a re-evaluates target b only
    assert report.computed == 2
    after = store.table
    on_a = spec.cells(lambda n: fps[n])[0].key
    assert on_a in set(before.cell)
    old = before.query("cell == @on_a and target == 'b' and metric == 'miou'")["value"].to_numpy()
    new = after.query("cell == @on_a and target == 'b' and metric == 'miou'")["value"].to_numpy()
    assert len(new) == len(old) and not np.array_equal(new, old)
    def kept(df):
        return df[(df.cell == on_a) & (df.target == "a") & (df.metric == "miou")]["value"].to_numpy()

    np.testing.assert_array_equal(kept(before), kept(after))  # target a untouched
    assert not after.duplicated(subset=[c for c in after.columns if c != "value"]).any()


def test_zoo_fingerprint_follows_the_checkpoint_file(tmp_path):
    from segrepro.run.profiles import get_profile
    from segrepro.run.zoo import Zoo

    path = tmp_path / "m.pt"
    torch.manual_seed(0)
    save_checkpoint(build("psp_r18", 10, width=4), path)
    profile = get_profile("smoke", checkpoints={"psp_r18": f"zoo:{path}"})
    first = Zoo(profile).fingerprint("shapes", "psp_r18")
    torch.manual_seed(1)
    save_checkpoint(build("psp_r18", 10, width=4), path)
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)
    assert Zoo(profile).fingerprint("shapes", "psp_r18") != first
    assert grid_mod.CHECKPOINT_EVERY >= 1
