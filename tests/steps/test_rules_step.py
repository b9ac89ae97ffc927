"""RulesStep: exact round trips, rules true on synthetic rows, editable rules in the schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import ClinisynthError, SchemaError
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.steps import STEPS
from clinisynth.steps.rules import RulesStep, check_rules_hold
from conftest import shared_dataset
from rules_helpers import make_planted

#: a small, fast hybrid: noisy copies and within-class interpolation (both break formulas,
#: mappings and gaps when nothing enforces them)
FAST = {"noise": 1, "interpolation": 1}


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return make_planted(n=300)


@pytest.fixture(scope="module")
def fitted(planted) -> HybridSynthesizer:
    """A small, fast hybrid with the rules step (shared by the tests that only sample)."""
    syn = HybridSynthesizer(weights=FAST, calibration=None, privacy_guard=False, seed=0)
    return syn.fit(planted, "died")


def assert_round_trip(df: pd.DataFrame, target: str) -> RulesStep:
    schema = infer_schema(df, target)
    step = RulesStep().fit_table(df, schema)
    model = step.transform_table(df)
    step.model_schema_.validate(model)
    back = step.inverse_table(model, np.random.default_rng(0))
    assert list(back.columns) == list(df.columns)
    check_rules_hold(step, back)
    # a rule a few real rows break (at most 1 % each) moves those rows into it: the round trip
    # is exact on the rest
    exceptions = step.violations(df)
    assert exceptions.mean() <= 0.01 * len(step.rules_)
    df, back = df[~exceptions], back[~exceptions]
    for col in schema.columns:
        a, b = df[col.name], back[col.name]
        assert a.isna().equals(b.isna()), col.name
        assert str(a.dtype) == str(b.dtype), col.name
        if col.is_numeric:
            slack = step.steps_.get(col.name, 0.0) / 2 + 1e-9
            assert np.nanmax(np.abs(a.astype(float) - b.astype(float))) <= slack, col.name
        else:
            assert (a[a.notna()].astype(str) == b[b.notna()].astype(str)).all(), col.name
    return step


def test_round_trip_on_planted_rules(planted) -> None:
    step = assert_round_trip(planted, "died")
    model = step.model_schema_
    assert {"bmi", "total", "agegrp", "region"}.isdisjoint(model.names)  # derived: dropped
    assert model["sbp"].min >= 0  # modelled as the gap sbp - dbp
    assert model["cause"].missing_rate == 0.0  # blanked cells filled for the model


def test_round_trip_on_breast_cancer(breast_cancer) -> None:
    step = assert_round_trip(*breast_cancer)
    assert "mean radius" in step.fences_["worst radius"]["lower"]


@pytest.mark.parametrize("name,target", [("liver_pbc.csv", "status"),
                                         ("pima_diabetes.csv", "type")])
def test_round_trip_on_shared_tables(name: str, target: str) -> None:
    assert_round_trip(pd.read_csv(shared_dataset(name)), target)


def test_inverse_enforces_by_construction(planted) -> None:
    step = RulesStep().fit_table(planted, infer_schema(planted, "died"))
    model = step.transform_table(planted).copy()
    rng = np.random.default_rng(0)
    model["sbp"] = rng.normal(-5, 20, len(model))  # negative gaps, off-precision values
    model["weight"] = model["weight"] + rng.normal(0, 0.37, len(model))
    model.loc[model["died"] == "no", "cause"] = "heart"
    out = step.inverse_table(model, rng)
    check_rules_hold(step, out)
    assert np.allclose(out["weight"] * 10, np.round(out["weight"] * 10))  # at 0.1
    assert out["cause"].isna().equals(out["died"] == "no")


def test_rounding_cannot_break_an_inequality() -> None:
    df = pd.DataFrame({"a": np.arange(100) * 0.01 + 1.0, "y": ["p", "q"] * 50})
    df["b"] = (df["a"] + np.arange(100) % 7 * 0.1).round(1)  # b at 0.1, a at 0.01
    df["b"] = np.maximum(df["b"], np.ceil(df["a"] * 10) / 10)
    schema = infer_schema(df, "y")
    schema.rules = [{"type": "inequality", "left": "a", "op": "<=", "right": "b"},
                    {"type": "inequality", "left": "a", "op": "<", "right": "c"}]
    df["c"] = df["b"] + 1
    schema = infer_schema(df, "y")
    schema.rules = [{"type": "inequality", "left": "a", "op": "<=", "right": "b"}]
    step = RulesStep().fit_table(df, schema)
    model = step.transform_table(df)
    model["b"] = 0.0  # every gap zero: b = a, which rounding to 0.1 would push below a
    out = step.inverse_table(model, np.random.default_rng(0))
    assert (out["b"] >= out["a"]).all()
    assert np.allclose(out["b"] * 10, np.round(out["b"] * 10))


def test_strict_inequality_and_declared_range() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.integers(0, 50, 200), "y": rng.choice(["p", "q"], 200)})
    df["b"] = df["a"] + rng.integers(1, 10, 200)
    schema = infer_schema(df, "y")
    schema.rules = [{"type": "inequality", "left": "a", "op": "<", "right": "b"},
                    {"type": "range", "column": "a", "min": 5, "max": 40}]
    step = RulesStep().fit_table(df, schema)
    model = step.transform_table(df)
    model["b"] = -3.0
    out = step.inverse_table(model, rng)
    assert (out["b"] > out["a"]).all() and out["a"].between(5, 40).all()
    assert not step.violations(out).any()


def test_every_discovered_rule_holds_on_hybrid_output(planted, fitted) -> None:
    syn = fitted
    fake = syn.sample(300)
    assert len(syn.rules_.rules_) >= 10
    check_rules_hold(syn.rules_, fake)
    assert syn.rules_report_["remaining"] == 0
    assert fake["total"].equals(fake["first"] + fake["second"])
    assert np.allclose(fake["weight"] * 10, np.round(fake["weight"] * 10))
    assert fake.dtypes.equals(planted.dtypes)


def test_without_rules_the_same_hybrid_breaks_them(planted) -> None:
    syn = HybridSynthesizer(weights=FAST, calibration=None, privacy_guard=False, seed=0,
                            rules=False)
    fake = syn.fit(planted, "died").sample(300)
    reference = RulesStep().fit_table(planted, infer_schema(planted, "died"))
    assert reference.violations(fake).mean() > 0.1  # the check above can fail


def test_schema_json_round_trip_with_rules(planted, tmp_path) -> None:
    step = RulesStep().fit_table(planted, infer_schema(planted, "died"))
    path = tmp_path / "schema.json"
    step.schema_.to_json(path)
    data = json.loads(path.read_text())
    assert data["rules"] and data["columns"][2]["precision"] == 1.0
    again = TableSchema.from_json(path)
    assert again.rules == step.schema_.rules
    assert RulesStep().fit_table(planted, again).violations(planted).sum() == 0


def test_user_deletes_and_declares_rules(planted) -> None:
    step = RulesStep().fit_table(planted, infer_schema(planted, "died"))
    rules = [r for r in step.schema_.rules if r["type"] != "formula"]  # delete formulas
    rules.append({"type": "formula", "column": "noise2", "expression": "abs(noise1) * 2"})
    edited = TableSchema.from_dict({**step.schema_.to_dict(), "rules": rules})
    syn = HybridSynthesizer(weights=FAST, calibration=None, privacy_guard=False, seed=0)
    fake = syn.fit(planted, schema=edited).sample(200)
    kinds = {type(r).__name__ for r in syn.rules_.rules_}
    assert "formula: noise2 = abs(noise1) * 2" in [r.describe() for r in syn.rules_.rules_]
    assert syn.rules_.discovery_ is None and "bmi" in syn.rules_.model_schema_.names
    assert np.allclose(fake["noise2"], (fake["noise1"].abs() * 2).round(2))
    assert "FormulaRule" in kinds and len(syn.rules_.rules_) == len(rules)
    empty = TableSchema.from_dict({**step.schema_.to_dict(), "rules": []})
    assert RulesStep().fit_table(planted, empty).rules_ == []


@pytest.mark.parametrize(("rule", "message"), [
    ({"type": "formula", "column": "bmi", "expression": "weight.__class__"},
     "rule 1 (formula): attribute access is not allowed (position 7)"),
    ({"type": "formula", "column": "bmi", "expression": "wieght / 2"},
     "rule 1 (formula): unknown column 'wieght'"),
    ({"type": "inequality", "left": "sbp", "op": ">=", "right": "dbp"}, "op must be"),
    ({"type": "inequality", "left": "sex", "right": "dbp"}, "not numeric"),
    ({"type": "nonsense"}, "unknown type 'nonsense'"),
    ({"type": "range", "column": "age", "minimum": 3}, "unexpected keyword argument 'minimum'"),
    ({"type": "formula", "column": "died", "expression": "age"}, "not numeric"),
    ({"type": "mapping", "column": "died", "inputs": ["site"], "table": []}, "target"),
])
def test_bad_rules_are_one_line_schema_errors(planted, rule, message) -> None:
    data = {**infer_schema(planted, "died").to_dict(), "rules": [rule]}
    with pytest.raises(ClinisynthError) as info:
        TableSchema.from_json(json.dumps(data))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_precision_is_a_schema_error(planted) -> None:
    data = infer_schema(planted, "died").to_dict()
    data["columns"][0]["precision"] = -1
    with pytest.raises(SchemaError, match="column 'age': precision"):
        TableSchema.from_dict(data)


def test_state_round_trip_and_registry(planted, fitted, tmp_path) -> None:
    assert STEPS.get("rules") is RulesStep
    step = RulesStep().fit_table(planted, infer_schema(planted, "died"))
    meta, arrays = step.get_state()
    again = RulesStep.from_state(json.loads(json.dumps(meta)), arrays)
    model = step.transform_table(planted)
    pd.testing.assert_frame_equal(again.transform_table(planted), model)
    pd.testing.assert_frame_equal(again.inverse_table(model, np.random.default_rng(0)),
                                  step.inverse_table(model, np.random.default_rng(0)))
    syn = fitted
    syn.save(tmp_path / "model")
    loaded = HybridSynthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.sample(50), syn.sample(50))


def test_cli_schema_writes_rules_and_generate_honours_edits(planted, tmp_path) -> None:
    from typer.testing import CliRunner

    from clinisynth.cli import app

    runner = CliRunner()
    data, path, out = tmp_path / "in.csv", tmp_path / "schema.json", tmp_path / "out.csv"
    planted.to_csv(data, index=False)
    result = runner.invoke(app, ["schema", "--data", str(data), "--target", "died",
                                 "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert "rule: inequality: dbp <= sbp" in result.output
    schema = json.loads(path.read_text())
    schema["rules"] = [r for r in schema["rules"] if r["type"] != "forbidden_combination"]
    path.write_text(json.dumps(schema))
    args = ["generate", "--data", str(data), "--schema", str(path), "--rows", "80",
            "--weights", "noise=1,interpolation=1", "--holdout-fraction", "0", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "true by construction" in result.output
    fake = pd.read_csv(out)
    assert (fake["sbp"] >= fake["dbp"]).all() and fake["total"].equals(fake["first"] +
                                                                       fake["second"])
    schema["rules"].append({"type": "formula", "column": "bmi", "expression": "weight.real"})
    path.write_text(json.dumps(schema))
    result = runner.invoke(app, args[:-2] + ["--out", str(tmp_path / "bad.csv")])
    assert result.exit_code == 2 and "attribute access is not allowed" in result.output
    assert not (tmp_path / "bad.csv").exists()


def test_seeded_chunks_are_reproducible_with_rules(fitted) -> None:
    a = fitted.sample(120, seed=11)
    b = fitted.sample(120, seed=11)
    pd.testing.assert_frame_equal(a, b)
    check_rules_hold(fitted.rules_, a)
    assert set(fitted.rules_report_) == {"redrawn", "remaining"}


def test_a_column_below_the_survival_time_is_its_share() -> None:
    """The survival step models the primary time per cell, so a rule ``visit <= time`` is kept
    by modelling ``visit`` as ``visit / time`` in [0, 1]: the time itself is never made a gap
    of another column; the share survives a state round trip and the rule holds after rounding.
    """
    rng = np.random.default_rng(0)
    n = 300
    time = rng.integers(1, 500, n).astype(float)
    df = pd.DataFrame({"time": time, "visit": np.floor(rng.uniform(0, 1, n) * time),
                       "status": rng.integers(0, 2, n), "y": rng.choice(["a", "b"], n)})
    schema = infer_schema(df, "y")
    schema.survival = [{"time": "time", "event": "status", "event_values": [1]}]
    step = RulesStep().fit_table(df, schema)
    assert step.fixed_ == ["time"] and "time" not in step.fences_
    assert step.fences_["visit"]["upper"] == ["time"] and not step.fences_["visit"]["lower"]
    model = step.transform_table(df)
    assert model["visit"].between(0, 1).all()
    assert step.model_schema_["visit"].min == 0.0 and step.model_schema_["visit"].max == 1.0
    assert step.model_schema_.survival == schema.survival
    model["visit"] = rng.uniform(-0.2, 1.2, n)  # a generator may overshoot
    again = RulesStep.from_state(*step.get_state())
    back = again.inverse_table(model, np.random.default_rng(1))
    assert (back["visit"] <= back["time"]).all() and (back["visit"] >= 0).all()
    assert (back["visit"] % 1 == 0).all()




def test_two_equalities_of_one_column_move_their_partners_together() -> None:
    """``n <= s <= d``, ``n <= d``, ``s = d`` where ``h``, ``n = s`` where ``q`` (support2's
    ``dnrday``, ``slos``, ``d.time``): on a row where both hold, the real rows have
    ``n = s = d``; decoding sets ``s`` to the primary survival time ``d`` and moves ``n`` to it
    too (inside its own fence ``n <= d``), so every rule holds by construction."""
    rng = np.random.default_rng(0)
    m = 400
    d = rng.integers(20, 400, m).astype(float)
    s = np.floor(d * rng.uniform(0.1, 0.9, m))
    n = np.floor(s * rng.uniform(0.0, 0.9, m))
    h, q = rng.integers(0, 2, m), rng.integers(0, 2, m)
    s = np.where(h == 1, d, s)
    n = np.where(q == 1, s, n)
    df = pd.DataFrame({"d": d, "e": rng.integers(0, 2, m), "s": s, "n": n,
                       "h": np.where(h == 1, "yes", "no"), "q": np.where(q == 1, "yes", "no"),
                       "y": rng.integers(0, 2, m)})
    schema = infer_schema(df, "y")
    schema.survival = [{"time": "d", "event": "e"}]
    schema.rules = [{"type": "inequality", "left": "s", "op": "<=", "right": "d"},
                    {"type": "inequality", "left": "n", "op": "<=", "right": "s"},
                    {"type": "inequality", "left": "n", "op": "<=", "right": "d"},
                    {"type": "conditional_equal", "column": "s", "equals": "d", "when": "h",
                     "values": ["yes"]},
                    {"type": "conditional_equal", "column": "n", "equals": "s", "when": "q",
                     "values": ["yes"]}]
    step = RulesStep().fit_table(df, schema)
    model = step.transform_table(df)
    model["n"] = model["n"].sample(frac=1.0, random_state=1).to_numpy()  # n apart from s, d
    out = step.inverse_table(model, np.random.default_rng(0))
    both = (out["h"] == "yes") & (out["q"] == "yes")
    assert both.sum() > 50
    assert (out.loc[both, "n"] == out.loc[both, "d"]).all()
    assert step.violations(out).sum() == 0
