"""Notebook ``00_setup`` at smoke scale: it trains the zoo through the setup study and shows the data."""
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "00_setup.ipynb"


def test_setup_notebook_is_thin_and_parametrised():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'profile = "embedded"' in params[0].source
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'run_study(P, "setup"' in code and "setup.preset_view" in code
    for c in nb.cells:  # short cells: imports aside, a few lines of segrepro calls
        if c.cell_type == "code":
            lines = [x for x in c.source.splitlines() if x.strip() and not x.startswith(("import ", "from ", "%"))]
            assert len(lines) <= 8, c.source


@pytest.mark.slow
def test_setup_notebook_runs_at_smoke_scale(smoke_env, tmp_path):
    import papermill

    from segrepro.run import get_profile
    from segrepro.studies import load_results

    out = tmp_path / "00_setup.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False, cwd=str(NOTEBOOK.parents[1]))
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(k.endswith("image/png") for o in outputs for k in o.get("data", {}))  # the sample grid (glued)
    glued = {o["metadata"]["scrapbook"]["name"] for o in outputs if "scrapbook" in o.get("metadata", {})}
    assert {"clean_min", "clean_max", "train_minutes", "setup_seconds"} <= glued
    df = load_results(get_profile("smoke"), "setup")  # the notebook stored the zoo's clean mIoU
    assert set(df[df.metric == "miou"].target) == {"fcn8s_vgg16", "psp_r18", "psp_r18@PGD3-AT"}


def test_released_models_table_reads_the_manifest(tmp_path, monkeypatch):
    import json

    from segrepro.models import release
    from segrepro.studies.setup import released_models

    entry = {"preset": "shapes", "clean_miou_512": 0.65, "pgd20_miou_256": 0.25, "bytes": 2e6, "train_seconds": 60.0,
             "dtype": "float16", "hardware": "CPU", "file": "m.pt", "sha256": "x", "key": "k"}
    (tmp_path / "manifest.json").write_text(json.dumps({"models": {"psp_r18@PGD3-AT/shapes": entry}}))
    monkeypatch.setattr(release, "WEIGHTS_DIR", tmp_path)
    table = released_models()
    row = table.iloc[0]
    assert (row["model"], row["clean (%)"], row["PGD-20 mIoU (%)"], row["size (MB)"]) == ("psp_r18@PGD3-AT", 65.0, 25.0, 2.0)
