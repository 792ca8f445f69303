"""Faults of the command line: one-line errors, no traceback, nothing prepared before the arguments are checked."""
import re
from pathlib import Path

import pytest

import segrepro
from segrepro import cli
from segrepro.run import runner
from segrepro.studies import names

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_prepare(monkeypatch):
    """Fail the test if a model would be prepared (the checks must come first)."""
    def prepare(*args, **kwargs):
        raise AssertionError("prepare was called")

    monkeypatch.setattr(runner, "prepare", prepare)


def _exit(argv) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code


def _one_line(err: str) -> str:
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


def test_version(capsys):
    assert _exit(["--version"]) == 0
    assert capsys.readouterr().out == f"segrepro {segrepro.__version__}\n"


@pytest.mark.parametrize("argv", [[], ["run"], ["book"], ["profiles"]])
def test_help_is_plain_text_with_examples(argv, capsys):
    assert _exit([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out and ":func:" not in out
    assert "examples:\n  segrepro run --profile embedded" in out


def test_only_lists_the_study_names_in_its_help(capsys):
    _exit(["run", "--help"])
    assert re.sub(r"\s+", " ", capsys.readouterr().out).count(", ".join(names())) == 1


def test_unknown_studies_list_the_valid_ones(capsys, no_prepare):
    assert _exit(["run", "--profile", "smoke", "--only", "setup", "ds", "rppgd"]) == 2
    assert f"error: unknown study 'ds', 'rppgd'; valid studies: {', '.join(names())}" in capsys.readouterr().err


def test_bad_override_exits_2_before_anything_is_prepared(capsys, no_prepare):
    assert _exit(["run", "--profile", "smoke", "--set", "seeds=0,0"]) == 2
    assert "segrepro: error: seeds lists [0] more than once; give each value once, got [0, 0]" in capsys.readouterr().err


def test_snapshots_beyond_steps_exit_2_before_anything_is_prepared(capsys, no_prepare):
    assert _exit(["run", "--profile", "smoke", "--set", "snapshots=2,99"]) == 2
    assert "error: snapshots [99] go beyond steps=4" in capsys.readouterr().err


def test_unknown_model_exits_2_before_anything_is_prepared(capsys, no_prepare):
    assert _exit(["run", "--profile", "smoke", "--set", "targets=psp_r18,fcn8s_vgg"]) == 2
    assert "error: targets: unknown model 'fcn8s_vgg'; zoo models:" in capsys.readouterr().err


def test_value_only_a_grid_builder_rejects_exits_2_before_anything_is_prepared(capsys, no_prepare):
    one_model = ["--set", "models=psp_r18", "--set", "sources=psp_r18", "--set", "targets=psp_r18",
                 "--set", "at_models=[]"]
    assert _exit(["run", "--profile", "smoke", "--only", "rp_pgd", *one_model]) == 2
    assert ("error: study 'rp_pgd' cannot build its grids from profile 'smoke': profile 'smoke' has no model "
            "besides 'psp_r18' to serve as Table 6's surrogate") in capsys.readouterr().err


def test_every_study_grid_is_built_before_prepare(monkeypatch):
    built = []
    monkeypatch.setattr(cli, "check_grids", lambda profile, only, models=True: built.extend(only))
    monkeypatch.setattr(cli, "run", lambda profile, only, progress: 0 if built == list(only) else 1)
    assert cli.main(["run", "--profile", "smoke", "--only", "segtrans", "setup", "segtrans"]) == 0
    assert built == ["segtrans", "setup"]  # each once, in the order given


def test_damaged_result_table_is_a_one_line_error(capsys, monkeypatch, tmp_path):
    from segrepro.run.zoo import Zoo

    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    table = tmp_path / "smoke" / "dynamic_scaling.csv"
    table.parent.mkdir()
    table.write_text("study,preset,grid,cell\ndynamic_scaling,sha")  # cut mid-row
    monkeypatch.setattr(runner, "prepare", lambda profile, **kw: Zoo(profile))  # lazy: loads nothing
    assert cli.main(["run", "--profile", "smoke", "--only", "dynamic_scaling", "--no-progress"]) == 1
    err = _one_line(capsys.readouterr().err)
    assert err.startswith(f"segrepro: error: result table {table} is damaged: it does not end with a newline")
    assert err.endswith("the missing cells are recomputed")


def test_interrupt_is_one_line_with_the_resume_hint(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    assert cli.main(["run", "--profile", "smoke", "--only", "setup"]) == 130
    assert _one_line(capsys.readouterr().err) == ("segrepro: interrupted; rerun the same command to resume "
                                                  "(finished cells are kept)")


# ---- segrepro book ------------------------------------------------------------------------------------
def test_book_outside_the_repository_names_the_missing_folder(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    assert cli.main(["book", "--profile", "smoke", "--no-build"]) == 1
    assert _one_line(capsys.readouterr().err) == (
        f"segrepro: error: notebooks folder 'notebooks' ({tmp_path / 'notebooks'}) not found; run segrepro book "
        "from the repository root or give --notebooks")
    assert not (tmp_path / "results").exists()  # nothing ran


def test_book_without_config_names_the_file(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    assert cli.main(["book", "--profile", "smoke", "--no-build"]) == 1
    assert _one_line(capsys.readouterr().err) == (
        f"segrepro: error: book config '_config.yml' ({tmp_path / '_config.yml'}) not found; run segrepro book "
        "from the repository root or give --config")


def test_book_with_a_wrong_notebooks_folder_fails(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    assert cli.main(["book", "--profile", "smoke", "--notebooks", "wrongdir", "--no-build"]) == 1
    assert _one_line(capsys.readouterr().err).startswith("segrepro: error: notebooks folder 'wrongdir' (")
    assert not (tmp_path / "smoke").exists()


def test_book_with_a_folder_of_no_notebook_fails(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path / "results"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["book", "--profile", "smoke", "--notebooks", str(empty), "--no-build"]) == 1
    assert _one_line(capsys.readouterr().err) == (
        f"segrepro: error: notebooks folder '{empty}' holds none of the book's notebooks (00_setup.ipynb, "
        f"01_dynamic_scaling.ipynb, 02_transegpgd.ipynb, 03_segtrans.ipynb, 04_rp_pgd.ipynb, 05_comparison.ipynb); "
        "give the right --notebooks")


def test_failing_notebook_is_a_one_line_error_naming_it(capsys, monkeypatch, tmp_path):
    import papermill

    def fail(src, dst, **kwargs):
        raise papermill.PapermillExecutionError(3, 4, "run_study(P)", "ValueError", "no data", [])

    monkeypatch.setattr(papermill, "execute_notebook", fail)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    assert cli.main(["book", "--profile", "smoke", "--no-build"]) == 1
    out = tmp_path / "smoke" / "notebooks" / "00_setup.ipynb"
    assert _one_line(capsys.readouterr().err) == (
        f"segrepro: error: notebook notebooks/00_setup.ipynb failed in cell [4]: ValueError: no data "
        f"(the executed copy {out} shows where)")
