"""Column roles: inference, the roles step's round trip, identifiers, dates, text, schema JSON."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import SchemaError
from clinisynth.schema import TableSchema, infer_schema
from clinisynth.schema.dates import infer_date_format
from clinisynth.steps.roles import RolesStep


def visits(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Patients with an MRN, an ISO visit date, a day-first admission/discharge pair, notes."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01")
    admission = start + rng.integers(0, 730, n).astype("timedelta64[D]")
    discharge = admission + rng.integers(0, 15, n).astype("timedelta64[D]")
    age = rng.integers(20, 90, n)
    lab = rng.normal(5, 2, n).round(2)
    return pd.DataFrame({
        "patient_id": [f"MRN{i:06d}" for i in rng.choice(1_000_000, n, replace=False)],
        "age": age, "lab": lab, "sex": rng.choice(["F", "M"], n),
        "visit_date": pd.Series(start + rng.integers(0, 730, n).astype("timedelta64[D]")
                                ).dt.strftime("%Y-%m-%d"),
        "admission": pd.Series(admission).dt.strftime("%d/%m/%Y"),
        "discharge": pd.Series(discharge).dt.strftime("%d/%m/%Y"),
        "note": [f"patient {i} seen in clinic, reports {w} pain" for i, w in
                 enumerate(rng.choice(["mild", "severe", "no"], n))],
        "outcome": np.where(lab + rng.normal(0, 1, n) > 5, "yes", "no"),
    })


def test_roles_inferred_from_names_patterns_dates_and_text():
    rng = np.random.default_rng(1)
    n = 60
    df = visits(n).assign(
        subject_no=rng.choice(10_000, n, replace=False),  # ID-like name, integers
        rowno=np.arange(n) + 1,  # consecutive run: row numbers
        crp=rng.normal(10, 3, n),  # all-distinct floats: a measurement
        bwt=rng.choice(np.arange(2000, 4000), n, replace=False),  # all-distinct, no ID name
        stage=rng.choice([1, 2, 3], n),  # 'stage' is not 'age'
        when=pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 9e5, n), unit="s"),
        compact=pd.Series(np.datetime64("2020-01-01") + rng.integers(0, 700, n)
                          .astype("timedelta64[D]")).dt.strftime("%Y%m%d"),
        rare=["x"] + ["y"] * (n - 1),  # a category held by one patient
    )
    schema = infer_schema(df, "outcome")
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {
        "patient_id": "identifier", "age": "quasi_identifier", "lab": None,
        "sex": "quasi_identifier", "visit_date": "datetime", "admission": "datetime",
        "discharge": "datetime", "note": "text", "outcome": None, "subject_no": "identifier",
        "rowno": "identifier", "crp": None, "bwt": None, "stage": None, "when": "datetime",
        "compact": "datetime", "rare": "quasi_identifier"}
    assert schema["admission"].format == "%d/%m/%Y"
    assert schema["visit_date"].format == "%Y-%m-%d"
    assert schema["compact"].format == "%Y%m%d"  # was "numbers stored as text"
    assert schema["when"].format is None  # a datetime dtype
    assert schema["patient_id"].strategy == "regenerate"
    assert schema["patient_id"].categories is None  # identifier values are never listed


def test_day_month_order_from_evidence_and_default():
    assert infer_date_format(pd.Series(["13/01/2020", "02/03/2020"])) == "%d/%m/%Y"
    assert infer_date_format(pd.Series(["01/13/2020", "03/02/2020"])) == "%m/%d/%Y"
    assert infer_date_format(pd.Series(["01/02/2020", "03/04/2020"])) == "%d/%m/%Y"  # default
    assert infer_date_format(pd.Series(["2020-01-02 10:30:00"])) == "%Y-%m-%d %H:%M:%S"
    assert infer_date_format(pd.Series(["12", "7"])) is None
    assert infer_date_format(pd.Series(["pain", "2020-01-01"])) is None


def test_roles_step_round_trip_and_model_table():
    df = visits()
    schema = infer_schema(df, "outcome")
    with pytest.warns(UserWarning, match="'note' is free text"):
        step = RolesStep().fit_table(df, schema)
    model = step.transform_table(df)
    assert list(model.columns) == ["age", "lab", "sex", "visit_date", "admission", "discharge",
                                   "outcome"]
    ms = step.model_schema_
    assert ms["admission"].kind == "integer" and ms["admission"].role == "quasi_identifier"
    assert ms["discharge"].min >= 0  # modelled as the gap after admission
    assert step.plans_["discharge"]["anchor"] == "admission"
    back = step.inverse_table(model, np.random.default_rng(0))
    assert list(back.columns) == list(df.columns) and back.dtypes.equals(df.dtypes)
    for col in ("age", "lab", "sex", "visit_date", "admission", "discharge", "outcome"):
        pd.testing.assert_series_equal(back[col], df[col].reset_index(drop=True))
    assert back["note"].isna().all()
    assert not back["patient_id"].isin(df["patient_id"]).any()


def test_identifiers_fresh_of_the_same_shape_and_disjoint():
    df = visits()
    df["code"] = [f"A{i:02d}" for i in range(100)] + [f"B{i:02d}" for i in range(20)]
    df["number"] = np.random.default_rng(3).choice(np.arange(100_000, 1_000_000), len(df),
                                                   replace=False)
    schema = infer_schema(df, "outcome")
    assert schema["code"].role == "identifier"  # all distinct, one fixed shape
    assert schema["number"].role is None  # distinct integers without an ID name: a value
    data = schema.to_dict()  # ... which the user marks as an identifier in the schema JSON
    for col in data["columns"]:
        if col["name"] == "number":
            col.update(role="identifier", strategy="regenerate", min=None, max=None)
    schema = TableSchema.from_dict(data)
    with pytest.warns(UserWarning):
        step = RolesStep().fit_table(df, schema)
    model = step.transform_table(df)
    out = step.inverse_table(pd.concat([model] * 5, ignore_index=True),
                                 np.random.default_rng(0))
    ids = out["patient_id"]  # the real shape, one digit longer: never a real one
    assert ids.map(lambda v: bool(re.fullmatch(r"MRN\d{7}", v))).all()
    assert ids.is_unique and not ids.isin(df["patient_id"]).any()
    # 'A'/'B' + 2 digits, one digit longer: never a real one, distinct where room allows
    assert out["code"].map(lambda v: bool(re.fullmatch(r"[A-Z]\d\d\d", v))).all()
    assert not out["code"].isin(df["code"]).any()
    numbers = out["number"]
    assert numbers.dtype == df["number"].dtype
    assert numbers.astype(str).str.len().eq(7).all() and not numbers.isin(df["number"]).any()
    # nothing of the real identifiers is kept: no value, no hash (a hash of a 6-digit key is
    # reversed by hashing every candidate), only the shapes
    meta, arrays = step.get_state()
    text = json.dumps(meta)
    assert arrays == {}
    assert not any(v in text for v in df["patient_id"])
    assert not any(str(v) in text for v in df["number"])
    assert meta["plans"]["patient_id"] == {"role": "identifier", "strategy": "regenerate",
                                           "kind": "text", "prefix": "MRN", "suffix": "",
                                           "length": 7, "shapes": {"999999": 1.0}}
    # held-out identifiers that are longer still: the synthetic ones get longer than them
    step.exclude_identifiers(pd.DataFrame({"patient_id": ["MRN12345678"], "number": [10**8]}))
    wider = step.inverse_table(model, np.random.default_rng(1))
    assert wider["patient_id"].str.len().eq(12).all()
    assert wider["number"].astype(str).str.len().eq(10).all()


def test_drop_strategy_and_schema_json_with_roles(tmp_path):
    df = visits()
    schema = infer_schema(df, "outcome")
    path = tmp_path / "schema.json"
    schema.to_json(path)
    data = json.loads(path.read_text())
    assert data["k"] == 5
    by_name = {c["name"]: c for c in data["columns"]}
    assert by_name["patient_id"]["role"] == "identifier"
    assert by_name["admission"]["format"] == "%d/%m/%Y"
    assert "MRN" not in path.read_text()
    by_name["patient_id"]["strategy"] = "drop"
    data["k"] = 3
    edited = TableSchema.from_dict(data)
    assert edited.k == 3 and TableSchema.from_json(edited.to_json()).to_dict() == edited.to_dict()
    with pytest.warns(UserWarning):
        step = RolesStep().fit_table(df, edited)
    out = step.inverse_table(step.transform_table(df), np.random.default_rng(0))
    assert "patient_id" not in out.columns
    bad = json.loads(json.dumps(data))
    bad["columns"][0]["role"] = "secret"
    with pytest.raises(SchemaError, match="role 'secret'"):
        TableSchema.from_dict(bad)
    wrong = visits()
    wrong.loc[3, "admission"] = "31/02/2020"
    with pytest.raises(SchemaError, match="column 'admission' has value '31/02/2020'"):
        edited.validate(wrong)


def test_synthesizer_keeps_columns_dates_in_order_and_survives_save_load(tmp_path):
    df = visits(160)
    syn = HybridSynthesizer(weights={"gmm": 1, "smote": 1}, calibration=None, seed=0)
    with pytest.warns(UserWarning, match="free text"):
        syn.fit(df, "outcome")
    fake = syn.sample(300, seed=1)
    assert list(fake.columns) == list(df.columns) and fake.dtypes.equals(df.dtypes)
    adm = pd.to_datetime(fake["admission"], format="%d/%m/%Y")
    dis = pd.to_datetime(fake["discharge"], format="%d/%m/%Y")
    assert (adm <= dis).all()
    real_adm = pd.to_datetime(df["admission"], format="%d/%m/%Y")
    assert adm.min() >= real_adm.min() and adm.max() <= real_adm.max()
    assert not fake["patient_id"].isin(df["patient_id"]).any()
    assert fake["note"].isna().all()
    assert "age" in syn.guard_.qi_ and "admission" in syn.guard_.qi_
    syn.save(tmp_path / "model")
    again = HybridSynthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(again.sample(300, seed=1), fake)


def test_schema_command_shows_roles_and_writes_them(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from clinisynth.cli import app
    from clinisynth.cli.app import console

    # the console's width is fixed when it is first used: make it wide whatever ran before
    monkeypatch.setattr(console, "width", 200)

    data, out = tmp_path / "visits.csv", tmp_path / "schema.json"
    visits(60).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["schema", "--data", str(data), "--target", "outcome",
                                      "--out", str(out)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "identifier (regenerate)" in result.output and "quasi_identifier" in result.output
    assert "dates, format %d/%m/%Y" in result.output
    roles = {c["name"]: c["role"] for c in json.loads(out.read_text())["columns"]}
    assert roles["patient_id"] == "identifier" and roles["note"] == "text"
