"""``--epsilon`` on the command line: the ledger printed, saved and in the report."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinisynth.cli import app
from clinisynth.persistence import read_model

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_fit_prints_and_saves_the_ledger(tmp_path):
    result = run("fit", "--dataset", "breast_cancer", "--model", tmp_path / "m",
                 "--epsilon", "3")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps at the terminal's width
    assert "differential privacy: (ε 3, δ 1e-06) per patient" in text
    assert "dp_tree:" in text and "no patient row" in text
    manifest, _ = read_model(tmp_path / "m")
    assert manifest["ledger"]["epsilon_spent"] <= 3.0 + 1e-9
    sampled = run("sample", "--model", tmp_path / "m", "--rows", "50", "--out",
                  tmp_path / "s.csv")
    assert sampled.exit_code == 0, sampled.output


def test_generate_reports_the_ledger(tmp_path):
    out = tmp_path / "o" / "bc.csv"
    result = run("generate", "--dataset", "breast_cancer", "--rows", "300", "--epsilon", "10",
                 "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_suffix(".audit.json").read_text())
    assert report["meta"]["synthesizer"]["differential_privacy"]["entries"]
    html = out.with_suffix(".report.html").read_text()
    assert "Differential privacy" in html and "not part of the guarantee" in html


def test_bad_epsilon_is_one_line(tmp_path):
    result = run("fit", "--dataset", "breast_cancer", "--model", tmp_path / "m",
                 "--epsilon", "-1")
    assert result.exit_code != 0
    assert "--epsilon must be a positive number" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()
    result = run("fit", "--dataset", "breast_cancer", "--model", tmp_path / "m",
                 "--delta", "1e-6")
    assert "--delta is for DP mode only: give --epsilon too" in result.output
