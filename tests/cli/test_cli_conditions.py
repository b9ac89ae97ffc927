"""`clinisynth generate --condition`, `clinisynth datasets` listing flchain."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from clinisynth.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_datasets_lists_flchain():
    result = run("datasets")
    assert result.exit_code == 0 and "flchain" in result.stdout


def test_generate_with_conditions_writes_exactly_the_rows(tmp_path, mixed_table):
    data, out = tmp_path / "in.csv", tmp_path / "out.csv"
    mixed_table.to_csv(data, index=False)
    result = run("generate", "--data", data, "--target", "outcome", "--rows", 80, "--seed", 0,
                 "--weights", "gmm", "--no-privacy-guard", "--calibration", "none",
                 "--holdout-fraction", 0.3, "--out", out,
                 "--condition", "age>=50", "--condition", "site in north,east")
    assert result.exit_code == 0, result.output
    fake = pd.read_csv(out)
    assert len(fake) == 80 and (fake["age"] >= 50).all()
    assert fake["site"].isin(["north", "east"]).all()
    audit = json.loads((tmp_path / "out.audit.json").read_text())
    assert audit["meta"]["rows"]["synthetic"] == 80
    assert audit["meta"]["rows"]["train"] < 0.7 * len(mixed_table)  # the matching rows only


def test_impossible_condition_is_one_line_exit_2_before_fitting(tmp_path, mixed_table):
    data, out = tmp_path / "in.csv", tmp_path / "out.csv"
    mixed_table.to_csv(data, index=False)
    result = run("generate", "--data", data, "--target", "outcome", "--rows", 10,
                 "--weights", "gmm", "--out", out, "--condition", "age>=120")
    assert result.exit_code == 2
    assert "condition 'age>=120': no value of 'age' can satisfy it" in result.output
    assert "Traceback" not in result.output and not out.exists()
    assert "fitting" not in result.output


def test_schema_command_reports_the_survival_pair(tmp_path):
    out = tmp_path / "schema.json"
    result = run("schema", "--dataset", "flchain", "--out", out)
    assert result.exit_code == 0, result.output
    assert "survival pair 1: futime / death=1 (separation" in result.stdout
    assert "runner-up: " in result.stdout
    assert json.loads(out.read_text())["survival"][0]["time"] == "futime"
