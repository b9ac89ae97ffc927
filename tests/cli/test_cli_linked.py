"""Several --data tables on the command line: schema (links), generate, fit and sample."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from clinisynth.cli import app
from clinisynth.linked.cohort import simulate_cohort

runner = CliRunner()
FAST = ["--weights", "gmm=1", "--seed", "0"]


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("linked")
    tables = simulate_cohort(120, seed=2)
    paths = []
    for name in ("patients", "visits"):
        path = folder / f"{name}.csv"
        tables[name].to_csv(path, index=False)
        paths.append(path)
    return paths


def data_args(files):
    return [a for p in files for a in ("--data", p)]


def test_generate_writes_one_file_per_table_and_the_audit(files, tmp_path):
    out = tmp_path / "out"
    result = run("generate", *data_args(files), "--target", "status", "--rows", "80",
                 "--out", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "parent patients keyed by 'id'" in text and "ordered by 'day'" in text
    patients = pd.read_csv(out / "patients.csv")
    visits = pd.read_csv(out / "visits.csv")
    assert len(patients) == 80 and visits["id"].isin(patients["id"]).all()
    report = json.loads((out / "linked.audit.json").read_text())
    assert report["structure"]["visits"]["orphans"] == 0
    page = (out / "linked.report.html").read_text()
    assert "Linked tables: patients + visits" in page and page.count("<img") >= 3
    lag = next(iter(report["dynamics"]["visits"]["lag1"].values()))
    assert lag["gap"]["low"] <= lag["gap"]["gap"] <= lag["gap"]["high"]
    assert "gap (95 % over patients)" in page
    low, high = report["patient_risk_intervals"]["singling_out_univariate"]
    assert f"{low:.3f} to {high:.3f}" in page
    assert "structure holds in every row" in text
    assert "lag-1 autocorrelation: largest gap to the holdout" in text


def test_schema_fit_and_sample(files, tmp_path):
    links = tmp_path / "links.json"
    result = run("schema", *data_args(files), "--out", links)
    assert result.exit_code == 0, result.output
    data = json.loads(links.read_text())
    assert data["key"] == "id" and data["children"][0]["order"] == "day"
    result = run("fit", *data_args(files), "--target", "status", "--links", links,
                 "--model", tmp_path / "m", *FAST)
    assert result.exit_code == 0, result.output
    result = run("sample", "--model", tmp_path / "m", "--rows", "30", "--out",
                 f"{tmp_path / 's'}/")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "s" / "patients.csv")) == 30


def test_linked_mistakes_are_one_line(files, tmp_path):
    result = run("generate", *data_args(files), "--target", "status", "--rows", "10",
                 "--out", tmp_path / "x.csv", *FAST)
    assert result.exit_code != 0 and "give a directory name" in result.output
    assert not (tmp_path / "x.csv").exists() and "Traceback" not in result.output
    result = run("fit", *data_args(files), "--model", tmp_path / "m", *FAST)
    assert result.exit_code != 0 and "--target is required" in result.output
    result = run("fit", *data_args(files), "--target", "status", "--key", "age",
                 "--model", tmp_path / "m", *FAST)
    assert result.exit_code != 0 and "--key 'age'" in result.output
    result = run("fit", "--data", files[0], "--key", "id", "--target", "status",
                 "--model", tmp_path / "m", *FAST)
    assert result.exit_code != 0 and "--key and --links apply" in result.output
    assert not (tmp_path / "m").exists()
