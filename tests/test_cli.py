import pytest

from segrepro.cli import build_parser, main, resolve_profile


def test_run_arguments():
    args = build_parser().parse_args(["run", "--profile", "smoke", "--only", "setup", "dynamic_scaling",
                                      "--set", "steps=6", "--set", "eps=0.03,0.06"])
    assert (args.command, args.profile, args.only) == ("run", "smoke", ["setup", "dynamic_scaling"])
    profile, overrides = resolve_profile(args.profile, args.overrides)
    assert profile.steps == 6 and profile.eps == (0.03, 0.06) and overrides == {"steps": 6, "eps": (0.03, 0.06)}


def test_defaults():
    args = build_parser().parse_args(["book"])
    assert args.profile == "embedded" and args.notebooks == "notebooks" and not args.no_build


@pytest.mark.parametrize("argv, message", [
    (["run", "--profile", "smoke", "--set", "stepz=3"], "unknown profile field"),
    (["run", "--profile", "smoke", "--set", "steps"], "field=value"),
    (["run", "--profile", "smoke", "--set", "steps=lots"], "steps expects an integer >= 1, got 'lots'"),
    (["run", "--profile", "huge"], "valid profiles"),
    (["run", "--profile", "smoke", "--only", "nosuch"], "unknown study 'nosuch'"),
])
def test_bad_arguments_exit_2_with_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_profiles_command_prints_fields(capsys):
    assert main(["profiles", "smoke", "--set", "steps=7"]) == 0
    assert '"steps": 7' in capsys.readouterr().out


def test_missing_files_and_absent_cuda_are_one_line_errors(capsys, monkeypatch):
    from segrepro import cli

    def fail(*args, **kwargs):
        raise FileNotFoundError("VOC root /nowhere does not exist; expected VOCdevkit/VOC2012/...")

    monkeypatch.setattr(cli, "run", fail)
    assert cli.main(["run", "--profile", "smoke", "--only", "setup"]) == 1
    assert "segrepro: error: VOC root /nowhere" in capsys.readouterr().err
