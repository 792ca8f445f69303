"""The registry: STUDIES in book order, one notebook and one toc line per study, names and their errors."""
from pathlib import Path

import pytest
import yaml

from segrepro import cli
from segrepro.studies import STUDIES, Study, get_study, names

REPO = Path(__file__).resolve().parents[2]


def _toc_files(node) -> list[str]:
    """Every ``file:`` of a jb-book ``_toc.yml`` in reading order (root first)."""
    if isinstance(node, list):
        return [f for n in node for f in _toc_files(n)]
    if isinstance(node, dict):
        own = [str(node[k]) for k in ("root", "file") if k in node]
        return own + [f for k in ("parts", "chapters", "sections") for f in _toc_files(node.get(k, []))]
    return []


def test_studies_notebooks_and_toc_agree():
    notebooks = [s.notebook for s in STUDIES]
    assert sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb")) == sorted(notebooks)
    toc = [Path(f).stem for f in _toc_files(yaml.safe_load((REPO / "book" / "_toc.yml").read_text()))]
    assert [f for f in toc if f in notebooks] == notebooks  # every study's chapter, in run order
    assert notebooks == sorted(notebooks)  # the 00_, 01_, ... prefixes follow the run order
    assert cli.NOTEBOOKS == tuple(notebooks)


def test_every_study_is_a_complete_record():
    assert names() == ["setup", "dynamic_scaling", "transegpgd", "segtrans", "rp_pgd", "comparison"]
    for s in STUDIES:
        assert isinstance(s, Study) and s.title and callable(s.grids)
        if s.name not in ("setup", "comparison"):  # these two judge no paper claim of their own
            assert callable(s.claims) and callable(s.headline)


def test_unknown_names_list_the_valid_ones():
    assert get_study("setup").notebook == "00_setup"
    with pytest.raises(ValueError, match="valid studies: setup, dynamic_scaling"):
        get_study("nope")
    with pytest.raises(SystemExit):
        cli.main(["run", "--profile", "smoke", "--only", "nope"])
