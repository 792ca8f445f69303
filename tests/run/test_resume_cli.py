"""Kill ``segrepro run`` midway (SIGKILL, no clean-up), rerun it: it keeps what was stored and computes the rest."""
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from segrepro.cli import main


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(smoke_env, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("SEGREPRO_RESULTS", str(results))  # fresh results; the zoo comes from the shared cache
    table = results / "smoke" / "dynamic_scaling.csv"
    cmd = [sys.executable, "-m", "segrepro.cli", "run", "--profile", "smoke", "--only", "dynamic_scaling",
           "--no-progress"]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while not _has_attacked_rows(table) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    before = pd.read_csv(table)  # a complete table: every write is atomic
    assert main(["run", "--profile", "smoke", "--only", "dynamic_scaling", "--no-progress"]) == 0

    timings = pd.read_csv(results / "smoke" / "timings.csv").set_index("stage")
    after = pd.read_csv(table)
    attacked_before = before[before.method != "clean"].cell.nunique()
    assert attacked_before > 0
    assert timings.loc["dynamic_scaling", "skipped"] >= attacked_before  # stored cells were not recomputed
    assert timings.loc["dynamic_scaling", "computed"] > 0  # and the rest was computed
    keys = ["grid", "cell", "target", "eval_scale", "iteration", "metric"]
    before, after = (t.astype({"eval_scale": str}) for t in (before, after))  # "ms" makes it text once present
    merged = before.merge(after, on=keys, suffixes=("_before", "_after"))
    assert len(merged) == len(before)  # nothing stored was lost
    assert (merged.value_before == merged.value_after).all()  # nor rewritten


def _has_attacked_rows(table) -> bool:
    """At least one attacked cell is stored (the first write holds only the clean rows)."""
    return table.exists() and (pd.read_csv(table, usecols=["method"]).method != "clean").any()
