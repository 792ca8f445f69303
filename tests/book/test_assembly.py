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


def _executed_like() -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: outputs on stdout and stderr, glue-only outputs, a parameters cell."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "x"', metadata={"tags": ["parameters"]})
    noisy = nbformat.v4.new_code_cell("print('a'); warn()")
    noisy.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                     nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n")]
    glued = nbformat.v4.new_code_cell("glue('k', 1, display=False)")
    glued.outputs = [nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "1"},
                                            metadata={"scrapbook": {"name": "k", "mime_prefix": "application/papermill.record/"}})]
    only_warning = nbformat.v4.new_code_cell("import x")
    only_warning.outputs = [nbformat.v4.new_output("stream", name="stderr", text="DeprecationWarning\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params, noisy, glued, only_warning]
    return nb


def test_clean_notebook_hides_inputs_and_drops_stderr(tmp_path):
    from segrepro.book.build import clean_notebook

    path = tmp_path / "01_x.ipynb"
    nbformat.write(_executed_like(), path)
    cells = nbformat.read(clean_notebook(path), as_version=4).cells
    assert "tags" not in cells[0].metadata  # markdown untouched
    assert cells[1].metadata["tags"] == ["parameters", "remove-input", "remove-cell"]
    assert cells[2].metadata["tags"] == ["remove-input"]
    assert [o["name"] for o in cells[2].outputs] == ["stdout"]
    assert cells[3].metadata["tags"] == ["remove-input", "remove-cell"] and len(cells[3].outputs) == 1  # glue kept
    assert cells[4].outputs == [] and "remove-cell" in cells[4].metadata["tags"]
    assert all("id" in c for c in cells)


def test_kernel_config_avoids_plain_tcp():
    from segrepro.book.build import kernel_config

    km = kernel_config()["KernelManager"]
    assert km.get("transport_encryption") == "auto" or km.get("transport") == "ipc"


def test_kernel_is_not_interrupted_on_shutdown():
    import asyncio

    from segrepro.book.build import kernel_manager_class

    km = kernel_manager_class()(kernel_name="python3")
    sent = []

    class Provisioner:
        async def send_signal(self, signum):
            sent.append(signum)

    km.provisioner = Provisioner()
    km.shutting_down = True
    asyncio.run(km._async_interrupt_kernel())
    assert sent == []  # a finished notebook's kernel gets the shutdown request only
    assert kernel_manager_class() is kernel_manager_class()


@pytest.mark.slow
def test_executed_notebook_is_clean_and_the_kernel_does_not_warn(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "x"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import sys, warnings\nwarnings.warn('careful')\nprint('err', file=sys.stderr)\n"
                                          "print('out')")]
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "00_setup.ipynb")
    done = execute_notebooks("smoke", ["00_setup"], tmp_path / "nb", tmp_path / "out")
    err = capfd.readouterr().err
    assert "without encryption" not in err and "KeyboardInterrupt" not in err
    raw = nbformat.read(done[0], as_version=4).cells[-1]
    assert {o.get("name") for o in raw.outputs} == {"stdout", "stderr"}  # the executed copy keeps everything
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "00_setup"}))
    (tmp_path / "_config.yml").write_text("title: t\n")
    src = assemble(tmp_path / "src", tmp_path / "_config.yml", book, done)
    cell = nbformat.read(src / "00_setup.ipynb", as_version=4).cells[-1]
    assert [o["text"] for o in cell.outputs] == ["out\n"] and "remove-input" in cell.metadata["tags"]
