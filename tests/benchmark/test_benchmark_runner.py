"""The benchmark grid: cells, files, resume, failures, and the command line's user errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from bench_fakes import FAST, failing_audit, fake_audit, tiny_table
from typer.testing import CliRunner

from clinisynth import HybridSynthesizer
from clinisynth.benchmark import BenchmarkOptions, make_synthesizer, run_grid, split_table
from clinisynth.benchmark.grid import cell_paths
from clinisynth.benchmark.runner import validate_grid
from clinisynth.cli import app
from clinisynth.errors import ClinisynthError

OPTS = BenchmarkOptions(synth_params=FAST)
SYNTHS = ["smote", "hybrid"]


def grid(tmp_path, out, audit=fake_audit, options=OPTS, seeds=2, synths=SYNTHS, **kw):
    calls = {"plan": None, "results": []}
    result = run_grid([tiny_table(tmp_path)], synths, seeds, out, options, workers=1,
                      audit_fn=audit, on_plan=lambda run, skip: calls.update(plan=(run, skip)),
                      on_result=calls["results"].append, **kw)
    return result, calls


def test_split_is_stratified_and_seeded(mixed_table):
    train, holdout = split_table(mixed_table, "outcome", seed=4)
    assert len(train) == 210 and len(holdout) == 90
    share = mixed_table["outcome"].value_counts(normalize=True)
    assert (train["outcome"].value_counts(normalize=True) - share).abs().max() < 0.01
    again, _ = split_table(mixed_table, "outcome", seed=4)
    other, _ = split_table(mixed_table, "outcome", seed=5)
    pd.testing.assert_frame_equal(train, again)
    assert not train.equals(other)


def test_smote_is_plain_smote():
    syn = make_synthesizer("smote", seed=3)
    assert isinstance(syn, HybridSynthesizer) and syn.weights == "smote" and syn.seed == 3
    for name, plain in (("calibration", None), ("privacy_guard", False)):
        if hasattr(syn, name):
            assert getattr(syn, name) == plain
    hybrid = make_synthesizer("hybrid", seed=3)
    assert isinstance(hybrid, HybridSynthesizer) and hybrid.seed == 3


def test_grid_writes_cells_results_summary_and_plots(tmp_path):
    out = tmp_path / "out"
    result, calls = grid(tmp_path, out)
    assert calls["plan"] == (4, 0) and len(calls["results"]) == 4
    rec = pd.read_csv(out / "results.csv")
    assert list(rec[["synthesizer", "seed"]].itertuples(index=False, name=None)) == [
        ("smote", 0), ("smote", 1), ("hybrid", 0), ("hybrid", 1)]
    assert (rec["status"] == "ok").all()
    assert (rec["n_train"] == 84).all() and (rec["n_holdout"] == 36).all()
    assert (rec["n_synthetic"] == 84).all() and (rec["n_holdout_seen"] == 36).all()
    assert (rec["fit_seconds"] > 0).all() and (rec["peak_rss_mb"] > 0).all()
    real = pd.read_csv(tmp_path / "tiny.csv")
    for row in rec.itertuples():
        fake = pd.read_csv(out / row.synthetic_path)
        assert list(fake.columns) == list(real.columns) and len(fake) == 84
    # seeds give different synthetic tables, and the cell's scores are of its own table
    assert rec.loc[rec.synthesizer == "smote", "checksum"].nunique() == 2
    for name in ("summary.md", "fidelity_privacy.png", "utility.png"):
        assert (out / name).stat().st_size > 0
    assert not (out / "scenarios.csv").exists()
    text = (out / "summary.md").read_text()
    assert "## tiny (target `outcome`)" in text and "4 of 4 cells finished" in text
    assert result.ran == 4 and result.skipped == 0


def test_rerun_resumes_and_reruns_only_what_changed(tmp_path):
    out = tmp_path / "out"
    grid(tmp_path, out)
    first = pd.read_csv(out / "results.csv")
    _, calls = grid(tmp_path, out)
    assert calls["plan"] == (0, 4) and calls["results"] == []
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), first)
    cell_paths(out, "tiny", "hybrid", 1)["record"].unlink()
    _, calls = grid(tmp_path, out)
    assert calls["plan"] == (1, 3) and calls["results"][0]["key"] == "tiny/hybrid/seed1"
    again = pd.read_csv(out / "results.csv")
    cols = ["synthesizer", "seed", "checksum", "ks_mean"]
    pd.testing.assert_frame_equal(again[cols], first[cols])  # a cell is a pure function
    # other options for one synthesizer re-run its cells only
    opts = BenchmarkOptions(synth_params={"hybrid": {"weights": "gmm"}})
    _, calls = grid(tmp_path, out, options=opts)
    assert calls["plan"] == (2, 2)
    assert {r["synthesizer"] for r in calls["results"]} == {"hybrid"}


def test_a_failing_cell_is_recorded_and_the_rest_go_on(tmp_path):
    out = tmp_path / "out"
    _, calls = grid(tmp_path, out, audit=failing_audit)
    rec = pd.read_csv(out / "results.csv", keep_default_na=False)
    bad = rec[rec.status == "error"]
    assert list(zip(bad.synthesizer, bad.seed, strict=True)) == [("smote", 1), ("hybrid", 1)]
    assert (bad.error == "RuntimeError: audit exploded on purpose").all()
    assert (rec[rec.status == "ok"].seed == 0).all() and len(rec) == 4
    stored = json.loads(cell_paths(out, "tiny", "smote", 1)["record"].read_text())
    assert "Traceback" in stored["traceback"]
    text = (out / "summary.md").read_text()
    assert "2 of 4 cells finished" in text
    assert "- tiny / smote / seed 1: RuntimeError: audit exploded on purpose" in text
    # failed cells run again on resume; finished ones are kept
    _, calls = grid(tmp_path, out)
    assert calls["plan"] == (2, 2)
    assert (pd.read_csv(out / "results.csv").status == "ok").all()


def test_a_synthesizer_that_cannot_fit_fails_its_cell_only(tmp_path):
    out = tmp_path / "out"
    opts = BenchmarkOptions(synth_params={**FAST, "smote": {"weights": "no_such_generator"}})
    grid(tmp_path, out, options=opts, seeds=1)
    rec = pd.read_csv(out / "results.csv")
    assert list(rec.status) == ["error", "ok"]
    assert "no_such_generator" in rec.error[0]


@pytest.mark.parametrize(("synths", "seeds", "engine", "workers", "message"), [
    (["hybrid", "bogus"], 1, "local", 2, "unknown synthesizer 'bogus'"),
    (["hybrid", "hybrid"], 1, "local", 2, "twice"),
    ([], 1, "local", 2, "empty"),
    (["hybrid"], 0, "local", 2, "--seeds must be a positive integer"),
    (["hybrid"], 1, "spark", 2, "--engine must be one of local, dask, ray"),
    (["hybrid"], 1, "local", 0, "--workers must be at least 1"),
])
def test_bad_grid_options_are_user_errors(tmp_path, synths, seeds, engine, workers, message):
    with pytest.raises(ClinisynthError, match=message):
        validate_grid([tiny_table(tmp_path)], synths, seeds, engine, workers)


def test_target_must_be_a_column(tmp_path):
    spec = tiny_table(tmp_path)
    bad = type(spec)(name=spec.name, target="nope", path=spec.path)
    with pytest.raises(ClinisynthError, match="--target 'nope' is not a column of tiny"):
        run_grid([bad], ["smote"], 1, tmp_path / "out", workers=1, audit_fn=fake_audit)
    assert not (tmp_path / "out").exists()


runner = CliRunner()


@pytest.mark.parametrize(("args", "message"), [
    (["--synthesizers", "hybrid,nope"], "unknown synthesizer 'nope'"),
    (["--seeds", "0"], "--seeds must be a positive integer"),
    (["--engine", "spark"], "--engine must be one of"),
    (["--target", "outcome", "--target", "x"], "give one --target per --data (1 --data, 2"),
    (["--address", "tcp://127.0.0.1:1"], "--address needs --engine dask or --engine ray"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
])
def test_cli_user_errors_exit_2_with_one_line(tmp_path, args, message):
    spec = tiny_table(tmp_path)
    base = ["benchmark", "--data", spec.path, "--out", str(tmp_path / "out")]
    if "--target" not in args:
        base += ["--target", "outcome"]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_cli_needs_a_table(tmp_path):
    result = runner.invoke(app, ["benchmark", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "give a table" in result.output


def test_cli_end_to_end_with_the_real_audit(tmp_path):
    from clinisynth.audit import HEADLINE_KEYS

    spec = tiny_table(tmp_path, n=80)
    out = tmp_path / "out"
    result = runner.invoke(app, ["benchmark", "--data", spec.path, "--target", "outcome",
                                 "--synthesizers", "smote", "--seeds", "1", "--workers", "1",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 of 1 cells finished" in result.output and "tiny/smote/seed0" in result.output
    rec = pd.read_csv(out / "results.csv")
    assert rec.status.tolist() == ["ok"] and set(HEADLINE_KEYS) <= set(rec.columns)
    assert 0 <= rec.tstr_f1[0] <= 1 and rec.n_synthetic[0] == 56
    text = (out / "summary.md").read_text()
    assert "--synthesizers smote --seeds 1" in text and "dcr_share →0.5" in text
