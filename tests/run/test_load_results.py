"""``load_results`` keeps the rows of the current grids only: attack cells and clean rows of other settings go."""
from types import SimpleNamespace

from segrepro.run import GridSpec, ResultStore, get_profile
from segrepro.run import runner
from segrepro.run.grid import clean_key


def _row(cell, method, value, grid="g", target="b"):
    return dict(study="toy", preset="shapes", grid=grid, cell=cell, source="-" if method == "clean" else "a",
                target=target, eval_scale="1", method=method, params="{}", eps=0.0 if method == "clean" else 0.03,
                iteration=0 if method == "clean" else 4, seed=0, metric="miou", value=value)


def test_clean_and_attack_rows_of_other_settings_are_dropped(tmp_path, monkeypatch):
    weights = "w1"
    monkeypatch.setenv("SEGREPRO_RESULTS", str(tmp_path))
    monkeypatch.setattr(runner, "Zoo", lambda profile, progress=False: SimpleNamespace(
        fingerprint=lambda preset, name, train=False: weights))
    p = get_profile("smoke")
    spec = lambda n: GridSpec(study="toy", grid="g", preset="shapes", sources=("a",), targets=("b",),  # noqa: E731
                              methods=("bim",), eps=(0.03,), steps=4, snapshots=(4,), n_images=n, batch_size=4)
    study = SimpleNamespace(name="toy", grids=lambda profile: [spec(8)])
    cell = next(iter(spec(8).cells(lambda name: weights))).key
    old_cell = next(iter(spec(4).cells(lambda name: weights))).key
    rows = [_row(cell, "bim", 0.1), _row(clean_key(spec(8), "b", "1", weights), "clean", 0.6),
            _row(old_cell, "bim", 0.3), _row(clean_key(spec(4), "b", "1", weights), "clean", 0.2),  # 4 images
            _row(clean_key(spec(8), "b", "1", "old weights"), "clean", 0.9),
            _row("timing", "bim", 5.0, grid="cost")]  # rows of no grid (a study's extra step) are kept
    ResultStore(runner.results_path(p, "toy")).add(rows)
    df = runner.load_results(p, study)
    assert sorted(df["value"]) == [0.1, 0.6, 5.0]
    assert len(runner.load_results(p, study, current_only=False)) == len(rows)
