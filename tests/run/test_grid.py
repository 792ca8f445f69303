import json

import pytest
import torch

from segrepro.run.grid import GridSpec, MethodSpec, canonical_params, run_grid
from segrepro.run.store import COLUMNS, ResultStore


def _spec(**kw):
    base = dict(study="t", preset="p", sources=("src_a",), targets=("tgt_c", "tgt_d", "src_b"),
                methods=("bim",), steps=3, snapshots=(1, 3), n_images=6, batch_size=4)
    base.update(kw)
    return GridSpec(**base)


def test_rows_schema_and_counts(tmp_path, tiny_models, tiny_data, fake_attack):
    store = ResultStore(tmp_path / "t.csv")
    rep = run_grid(_spec(methods=("bim", ("ds", {"lam": 0.3}))), store, tiny_models, tiny_data,
                   attack_fn=fake_attack, progress=False)
    df = store.table
    assert list(df.columns) == COLUMNS and rep.computed == 2 and rep.skipped == 0
    attacked = df[df.method != "clean"]
    cost = attacked[attacked.metric.str.endswith("per_example")]
    quality = attacked[~attacked.metric.str.endswith("per_example")]
    # 2 methods x 4 targets (3 + source as white-box) x 2 snapshots x 4 metrics
    assert len(quality) == 2 * 4 * 2 * 4
    assert set(quality.target) == {"tgt_c", "tgt_d", "src_b", "src_a"}
    assert set(quality.iteration) == {1, 3}
    assert set(quality.metric) == {"miou", "mis_ratio", "asr", "rel_drop"}
    assert set(attacked.params) == {"{}", '{"lam":0.3}'}
    assert len(cost) == 2 * 3 and set(cost.target) == {"src_a"}
    # the fake runs one forward and one backward per image and iteration: 3 of each per example
    assert cost[cost.metric == "forward_passes_per_example"].value.tolist() == [3.0, 3.0]
    assert cost[cost.metric == "backward_passes_per_example"].value.tolist() == [3.0, 3.0]
    assert len(df[df.method == "clean"]) == 4 * 2  # miou and mis_ratio per target


def test_examples_made_once_per_source_and_evaluated_on_every_target(tmp_path, tiny_models, tiny_data, make_attack):
    attack = make_attack()
    spec = _spec(sources=("src_a", "src_b"), seeds=(0, 1), eps=(0.03, 0.06))
    run_grid(spec, ResultStore(tmp_path / "t.csv"), tiny_models, tiny_data, attack_fn=attack, progress=False)
    # 2 sources x 2 eps x 2 seeds cells, each 2 batches (6 images, batch 4): 16 calls, not x targets
    assert len(attack.calls) == 16
    assert sorted({c[:4] for c in attack.calls}) == sorted(
        {(f"tiny{i}", "bim", e, s * 1_000_003 + b) for i in (0, 1) for e in (0.03, 0.06)
         for s in (0, 1) for b in (0, 1)})
    assert sorted(c[4] for c in attack.calls[:2]) == [2, 4]


def test_resume_computes_nothing_stored(tmp_path, tiny_models, tiny_data, make_attack):
    path = tmp_path / "t.csv"
    run_grid(_spec(seeds=(0, 1)), ResultStore(path), tiny_models, tiny_data, attack_fn=make_attack(),
             progress=False)
    before = path.read_bytes()
    again = make_attack()
    rep = run_grid(_spec(seeds=(0, 1)), ResultStore(path), tiny_models, tiny_data, attack_fn=again,
                   progress=False)
    assert again.calls == [] and rep.computed == 0 and rep.skipped == 2
    assert path.read_bytes() == before


def test_kill_midway_then_resume_finishes_only_the_rest(tmp_path, tiny_models, tiny_data, make_attack):
    path = tmp_path / "t.csv"
    spec = _spec(seeds=(0, 1, 2), n_images=4)  # one batch per cell
    with pytest.raises(KeyboardInterrupt):
        run_grid(spec, ResultStore(path), tiny_models, tiny_data, attack_fn=make_attack(fail_after=2),
                 progress=False)
    assert len(ResultStore(path).cells() - {c for c in ResultStore(path).cells() if c.startswith("clean")}) == 2
    rest = make_attack()
    rep = run_grid(spec, ResultStore(path), tiny_models, tiny_data, attack_fn=rest, progress=False)
    assert [c[3] for c in rest.calls] == [2 * 1_000_003] and rep.computed == 1 and rep.skipped == 2


def test_added_target_evaluates_only_it_without_new_cost_rows(tmp_path, tiny_models, tiny_data, make_attack):
    path = tmp_path / "t.csv"
    run_grid(_spec(targets=("tgt_c",)), ResultStore(path), tiny_models, tiny_data, attack_fn=make_attack(),
             progress=False)
    store = ResultStore(path)
    n_before = len(store)
    run_grid(_spec(targets=("tgt_c", "tgt_d")), store, tiny_models, tiny_data, attack_fn=make_attack(),
             progress=False)
    new = store.table.iloc[n_before:]
    assert set(new.target) == {"tgt_d"}
    assert not new.metric.str.endswith("per_example").any()


def test_metrics_hand_computed(tmp_path, make_attack, threshold_model):
    # red channel 0.2 0.45 / 0.7 0.9, labels 0 0 / 1 1: the threshold model is right everywhere;
    # the fake attack adds eps=0.1 at the last step, so 0.45 -> 0.55 flips to class 1.
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0] = torch.tensor([[0.2, 0.45], [0.7, 0.9]])
    lab = torch.tensor([[[0, 0], [1, 1]]])
    store = ResultStore(tmp_path / "t.csv")
    spec = GridSpec(study="t", preset="p", sources=("thr",), targets=(), methods=("bim",), eps=(0.1,),
                    steps=1, n_images=1, batch_size=1)
    run_grid(spec, store, {"thr": threshold_model}, (img, lab), attack_fn=make_attack(), progress=False)
    df = store.table
    got = dict(zip(df[df.method == "bim"].metric, df[df.method == "bim"].value))
    # confusion [[1,1],[0,2]]: IoU0 = 1/2, IoU1 = 2/3
    assert got["miou"] == pytest.approx(7 / 12)
    assert got["mis_ratio"] == pytest.approx(1 / 4)
    assert got["asr"] == pytest.approx(1 / 4)
    assert got["rel_drop"] == pytest.approx(5 / 12)
    clean = dict(zip(df[df.method == "clean"].metric, df[df.method == "clean"].value))
    assert clean == {"miou": 1.0, "mis_ratio": 0.0}


def test_eval_scales_rows(tmp_path, tiny_models, tiny_data, fake_attack):
    store = ResultStore(tmp_path / "t.csv")
    run_grid(_spec(targets=("tgt_c",), eval_scales=(1.0, 0.5, "ms"), snapshots=(3,)), store, tiny_models,
             tiny_data, attack_fn=fake_attack, progress=False)
    assert set(store.table.eval_scale) == {"1", "0.5", "ms"}


@pytest.mark.parametrize("kw, match", [
    (dict(snapshots=(0, 2)), "snapshots"), (dict(snapshots=(5,)), "snapshots"),
    (dict(sources=()), "at least one"), (dict(eval_scales=(-1,)), "scale"), (dict(n_images=0), "positive"),
])
def test_bad_specs(kw, match):
    with pytest.raises(ValueError, match=match):
        _spec(**kw)


def test_method_spec_coercion():
    assert MethodSpec.coerce(("ds", {"b": 1, "a": 2})).params_json == '{"a":2,"b":1}'
    assert canonical_params(None) == "{}" and json.loads(canonical_params({"x": 0.5})) == {"x": 0.5}
    with pytest.raises(TypeError, match="method"):
        MethodSpec.coerce(3)
