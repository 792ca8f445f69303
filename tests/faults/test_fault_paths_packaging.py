"""Faults of the folders segrepro writes to, and of the packaging."""
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import segrepro
from segrepro.paths import cache_dir, results_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("variable, folder", [("SEGREPRO_CACHE", cache_dir), ("SEGREPRO_RESULTS", results_dir)])
def test_root_variable_pointing_at_a_file(monkeypatch, tmp_path, variable, folder):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    monkeypatch.setenv(variable, str(afile))
    with pytest.raises(NotADirectoryError, match=rf"{variable}='{re.escape(str(afile))}': cannot make the folder .* "
                                                 rf"because {re.escape(str(afile))} is a file, not a folder; "
                                                 rf"point {variable} at a folder"):
        folder("models")
    assert afile.read_text() == "not a folder"


def test_file_in_the_way_below_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path))
    (tmp_path / "models").write_text("")
    with pytest.raises(NotADirectoryError, match=rf"because {re.escape(str(tmp_path / 'models'))} is a file"):
        cache_dir("models", "partial")


def test_default_root_blocked_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGREPRO_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").write_text("")
    with pytest.raises(NotADirectoryError, match=r"the default 'results' \(SEGREPRO_RESULTS unset\)"):
        results_dir()


def test_version_is_the_installed_distributions():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert segrepro.__version__ == version("segrepro") == pyproject["project"]["version"]


def test_scipy_is_a_core_dependency():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.match(r"scipy\b", d) for d in deps)


def test_mmseg_extra_states_the_tested_torch_range():
    from segrepro.models import mmseg

    lo, hi = mmseg.TESTED_TORCH
    stated = f"{lo[0]}.{lo[1]}" if lo == hi else f"{lo[0]}.{lo[1]} to {hi[0]}.{hi[1]}"
    text = (ROOT / "pyproject.toml").read_text()
    assert f"# Tested torch range for this extra: torch {stated}" in text
    assert f"Tested torch range of the extra: torch {stated}" in mmseg.__doc__
