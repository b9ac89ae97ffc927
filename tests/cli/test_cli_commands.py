"""The command line: the main job, and every bad input giving one line, exit 2, no output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clinisynth import HybridSynthesizer
from clinisynth.cli import app
from clinisynth.schema import infer_schema
from conftest import shared_dataset

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_datasets_lists_breast_cancer():
    result = run("datasets")
    assert result.exit_code == 0
    assert "breast_cancer" in result.stdout


def test_generate_bundled_dataset_with_model(tmp_path):
    out, model = tmp_path / "bc.parquet", tmp_path / "model"
    result = run("generate", "--dataset", "breast_cancer", "--rows", 300, "--seed", 1,
                 "--weights", "gmm=1,smote=1", "--holdout-fraction", 0, "--out", out,
                 "--save-model", model)
    assert result.exit_code == 0, result.output
    fake = pd.read_parquet(out)
    assert len(fake) == 300 and fake.shape[1] == 31
    assert "300 synthetic rows" in result.stdout
    again = HybridSynthesizer.load(model)
    assert set(again.generators_) == {"gmm", "smote"}


def test_generate_csv_is_reproducible(tmp_path, mixed_table):
    data = tmp_path / "in.csv"
    mixed_table.to_csv(data, index=False)
    outs = []
    for i in range(2):
        out = tmp_path / f"out{i}.csv"
        result = run("generate", "--data", data, "--target", "outcome", "--rows", 120,
                     "--seed", 5, "--weights", "gmm", "--holdout-fraction", 0, "--out", out)
        assert result.exit_code == 0, result.output
        outs.append(out.read_text())
    assert outs[0] == outs[1]


def test_schema_then_generate_with_edited_schema(tmp_path, mixed_table):
    data, schema = tmp_path / "in.csv", tmp_path / "schema.json"
    mixed_table.to_csv(data, index=False)
    assert run("schema", "--data", data, "--target", "outcome", "--out", schema).exit_code == 0
    out = tmp_path / "out.csv"
    result = run("generate", "--data", data, "--schema", schema, "--rows", 50,
                 "--weights", "gmm", "--holdout-fraction", 0, "--out", out)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out).shape == (50, mixed_table.shape[1])


def _write(path, text: str | bytes):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


BAD_INPUTS = {
    "missing target": ("a,y\n1,0\n2,1\n", "y2", "target column 'y2' not found"),
    "one class": ("a,y\n1,0\n2,0\n3,0\n", "y", "single class"),
    "empty file": ("", "y", "is empty"),
    "not a table": (bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)), "y",
                    "not"),
    "header only": ("a,y\n", "y", "no rows"),
    "one column": ("just some words\nmore words\n", "y", "fewer than two columns"),
    "all missing column": ("a,b,y\n1,,0\n2,,1\n3,,0\n", "y", "'b' is entirely missing"),
    "junk in numeric": ("a,y\n" + "".join(f"{i}.5,{i % 2}\n" for i in range(20)) + "abc,1\n",
                        "y", "'a' should be numeric"),
    "duplicate names": ("a,a,y\n1,2,0\n3,4,1\n", "y", "duplicate column name 'a'"),
    "missing target cells": ("a,y\n1,0\n2,\n3,1\n", "y", "missing values"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_exit_2_and_no_output(case, tmp_path):
    content, target, message = BAD_INPUTS[case]
    data = _write(tmp_path / "in.csv", content)
    out = tmp_path / "out.csv"
    result = run("generate", "--data", data, "--target", target, "--rows", 10, "--out", out)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and message in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out.csv*"))  # no temporary left behind


@pytest.mark.parametrize("args, message", [
    (["--rows", "0"], "--rows must be a positive integer"),
    (["--rows", "-4"], "--rows must be a positive integer"),
    (["--rows", "5", "--weights", "bogus=1"], "unknown generator 'bogus'"),
    (["--rows", "5", "--out-format"], None),
    (["--rows", "5", "--holdout-fraction", "0.95"], "--holdout-fraction must be in [0, 0.9)"),
    (["--rows", "5", "--calibration", "magic"], "--calibration: unknown calibrator 'magic'"),
    (["--rows", "5", "--html", "report.pdf"], "--html 'report.pdf' should end in"),
    (["--rows", "5", "--generators", "gmm,magic"], "--generators: unknown generator 'magic'"),
    (["--rows", "5", "--generators", "gmm,cvae", "--weights", "smote"],
     "weights: 'smote' is not among generators (gmm, cvae)"),
])
def test_bad_options(args, message, tmp_path):
    out = tmp_path / "o.csv"
    result = run("generate", "--dataset", "breast_cancer", *args, "--out", out)
    assert result.exit_code == 2
    if message:
        assert message in result.stderr
    assert not out.exists()


def test_output_suffix_and_dataset_errors(tmp_path):
    result = run("generate", "--dataset", "breast_cancer", "--rows", 5,
                 "--out", tmp_path / "o.xlsx")
    assert result.exit_code == 2 and "unsupported file type '.xlsx'" in result.stderr
    result = run("generate", "--dataset", "nope", "--rows", 5, "--out", tmp_path / "o.csv")
    assert result.exit_code == 2 and "unknown dataset 'nope'" in result.stderr


def test_generate_audits_against_the_held_out_rows(tmp_path, mixed_table):
    """Default path: 30% held out, fit on the rest, audit JSON and HTML report written."""
    data, out = tmp_path / "in.csv", tmp_path / "syn.csv"
    mixed_table.to_csv(data, index=False)
    result = run("generate", "--data", data, "--target", "outcome", "--rows", 200, "--seed", 2,
                 "--out", out)
    assert result.exit_code == 0, result.output
    audit = json.loads((tmp_path / "syn.audit.json").read_text())
    assert audit["meta"]["rows"] == {"train": 210, "holdout": 90, "synthetic": 200}
    synth = audit["meta"]["synthesizer"]
    assert abs(sum(synth["weights"].values()) - 1) < 1e-9
    assert synth["calibration"] == ["moment", "adaptive_soft"]
    assert synth["fidelity_before_calibration"]["ks_mean"] >= 0
    report = (tmp_path / "syn.report.html").read_text()
    for title in ("Generator weights", "Weight search reward trace",
                  "Calibration: before and after", "Privacy guard"):
        assert title in report
    # the guard section states the distance rule's sharing clause with the fitted parameters
    assert "fewer than 3 training rows lie within 1 × the threshold of it" in report
    assert "dcr_share" in result.stdout


def test_constant_column_is_kept_constant(tmp_path, mixed_table):
    data = tmp_path / "in.csv"
    mixed_table.to_csv(data, index=False)
    out = tmp_path / "out.csv"
    result = run("generate", "--data", data, "--target", "outcome", "--rows", 40,
                 "--weights", "gmm", "--holdout-fraction", 0, "--out", out)
    assert result.exit_code == 0
    assert (pd.read_csv(out)["const"] == 7).all()


@pytest.mark.parametrize("name, target", [("pima_diabetes.csv", "type"),
                                          ("cardiac_cabg_ptca.csv", "procedure"),
                                          ("liver_pbc.csv", "status")])
def test_shared_datasets_end_to_end(name, target, tmp_path):
    """Mixed types and missing cells on real tables, through the user's own path."""
    data = shared_dataset(name)
    out = tmp_path / "out.csv"
    result = run("generate", "--data", data, "--target", target, "--rows", 400, "--seed", 0,
                 "--out", out)
    assert result.exit_code == 0, result.output
    real, fake = pd.read_csv(data), pd.read_csv(out)
    assert list(fake.columns) == list(real.columns)
    assert fake.dtypes.to_dict() == real.dtypes.to_dict()
    schema = infer_schema(real, target)
    for col in schema.columns:
        name = col.name
        if col.is_numeric:
            assert fake[name].min() >= col.min and fake[name].max() <= col.max, name
            if col.kind == "integer":
                assert (fake[name].dropna() % 1 == 0).all(), name
        else:
            assert set(fake[name].dropna()) <= set(real[name].dropna()), name
        assert abs(fake[name].isna().mean() - real[name].isna().mean()) < 0.02, name
