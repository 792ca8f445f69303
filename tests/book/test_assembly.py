import nbformat
import pytest
import yaml

from segrepro.book.build import _prune, assemble, execute_notebooks

TOC = {"format": "jb-book", "root": "intro", "parts": [
    {"caption": "Background", "chapters": [{"file": "methods"}]},
    {"caption": "Study", "chapters": [{"file": "00_setup"}, {"file": "01_dynamic_scaling"}]},
    {"caption": "Empty", "chapters": [{"file": "05_comparison"}]}]}


def test_prune_drops_missing_pages_and_empty_parts():
    out = _prune(TOC, {"intro", "methods", "00_setup"})
    assert out["parts"] == [{"caption": "Background", "chapters": [{"file": "methods"}]},
                            {"caption": "Study", "chapters": [{"file": "00_setup"}]}]


def test_assemble_copies_sources_flat(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").write_text(yaml.safe_dump(TOC))
    for page in ("intro", "methods"):
        (book / f"{page}.md").write_text(f"# {page}\n")
    (tmp_path / "_config.yml").write_text("title: t\n")
    nb = tmp_path / "00_setup.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), nb)
    src = assemble(tmp_path / "src", tmp_path / "_config.yml", book, [nb])
    assert sorted(p.name for p in src.iterdir()) == ["00_setup.ipynb", "_config.yml", "_toc.yml", "intro.md",
                                                     "methods.md"]
    assert [c["file"] for p in yaml.safe_load((src / "_toc.yml").read_text())["parts"]
            for c in p["chapters"]] == ["methods", "00_setup"]
    with pytest.raises(FileNotFoundError, match="_config.yml"):
        assemble(tmp_path / "src", tmp_path / "nope" / "_config.yml", book, [])


@pytest.mark.slow
def test_execute_notebooks_injects_parameters_and_skips_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "x"\noverrides = {}', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(profile, overrides)")]
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "00_setup.ipynb")
    with pytest.warns(UserWarning, match="01_dynamic_scaling.ipynb does not exist"):
        done = execute_notebooks("smoke", ["00_setup", "01_dynamic_scaling"], tmp_path / "nb", tmp_path / "out",
                                 parameters={"overrides": {"steps": 3}})
    assert [p.name for p in done] == ["00_setup.ipynb"]
    out = nbformat.read(done[0], as_version=4)
    assert out.cells[-1].outputs[0]["text"] == "smoke {'steps': 3}\n"
