"""`clinisynth fit` and `clinisynth sample`, model directories from the command line, and how
every command reports warnings, user errors and internal errors."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from typer.testing import CliRunner

from clinisynth.cli import app, main
from clinisynth.persistence import DIGEST, MANIFEST
from conftest import make_mixed_table

runner = CliRunner()
FAST = ("--weights", "gmm", "--calibration", "none")


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def stderr_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


def assert_one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "t.csv"
    make_mixed_table(150).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted_model(table_csv, tmp_path_factory) -> Path:
    model = tmp_path_factory.mktemp("models") / "model"
    result = run("fit", "--data", table_csv, "--target", "outcome", "--model", model, *FAST,
                 "--calibration", "moment", "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "model saved to" in result.stdout
    return model


@pytest.fixture
def model(fitted_model, tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(fitted_model, copy)
    return copy


# -- fit and sample --------------------------------------------------------------------------------
def test_sample_same_seed_same_bytes(model, tmp_path):
    files = {}
    for name, seed in [("a.csv", 5), ("b.csv", 5), ("c.csv", 6), ("a.parquet", 5),
                       ("b.parquet", 5)]:
        result = run("sample", "--model", model, "--rows", 200, "--seed", seed,
                     "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        files[name] = (tmp_path / name).read_bytes()
    assert files["a.csv"] == files["b.csv"]
    assert files["a.parquet"] == files["b.parquet"]
    assert files["a.csv"] != files["c.csv"]
    fake = pd.read_csv(tmp_path / "a.csv")
    assert len(fake) == 200 and list(fake.columns) == list(make_mixed_table(5).columns)


def test_sample_class_counts(model, tmp_path):
    out = tmp_path / "o.csv"
    result = run("sample", "--model", model, "--rows", 30, "--class-counts", "Yes=30",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert (pd.read_csv(out)["outcome"] == "Yes").all()
    result = run("sample", "--model", model, "--rows", 30, "--class-counts", " No = 12 ,Yes=18",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["outcome"].value_counts().to_dict() == {"Yes": 18, "No": 12}


@pytest.mark.parametrize("spec, needle", [
    ("Yes", "--class-counts: 'Yes' is not label=count"),
    ("Yes=ten", "--class-counts: count 'ten' for class 'Yes' is not a whole number"),
    ("Yes=-1,No=31", "--class-counts: count for class 'Yes' is negative"),
    ("Yes=10,Yes=20", "--class-counts: class 'Yes' is given twice"),
    ("Maybe=30", "--class-counts: unknown class 'Maybe' for target 'outcome'; known: No, Yes"),
    ("Yes=10,No=10", "--class-counts sum to 20 but --rows is 30"),
    (",", "--class-counts is empty"),
])
def test_class_counts_errors(model, tmp_path, spec, needle):
    out = tmp_path / "o.csv"
    result = run("sample", "--model", model, "--rows", 30, "--class-counts", spec, "--out", out)
    assert_one_line_error(result, needle)
    assert not out.exists()


def test_sample_refuses_out_in_the_model_and_bad_models(model, tmp_path):
    for out in (model / "x.csv", model):
        result = run("sample", "--model", model, "--rows", 5, "--out", out)
        assert_one_line_error(result)
    result = run("sample", "--model", model, "--rows", 5, "--out", model / "x.csv")
    assert_one_line_error(result, "is inside --model")
    assert sorted(p.name for p in model.iterdir()) == ["arrays.npz", MANIFEST, DIGEST]
    result = run("sample", "--model", tmp_path / "none", "--rows", 5, "--out", tmp_path / "o.csv")
    assert_one_line_error(result, "does not exist")
    result = run("sample", "--model", model, "--rows", 0, "--out", tmp_path / "o.csv")
    assert_one_line_error(result, "--rows must be a positive integer")
    result = run("sample", "--model", model, "--rows", 5, "--seed", -1, "--out", tmp_path / "o.csv")
    assert_one_line_error(result, "--seed must be a non-negative integer, got -1")


def test_flipping_any_byte_of_any_model_file_makes_sample_exit_2(fitted_model, tmp_path):
    """Every file of the directory, a byte at its start, middle and end."""
    names = sorted(p.name for p in fitted_model.iterdir())
    assert len(names) == 3
    for name in names:
        size = (fitted_model / name).stat().st_size
        for i in sorted({0, size // 2, size - 1}):
            model = tmp_path / f"{name}-{i}"
            shutil.copytree(fitted_model, model)
            data = bytearray((model / name).read_bytes())
            data[i] ^= 0x20
            (model / name).write_bytes(bytes(data))
            out = tmp_path / "o.csv"
            result = run("sample", "--model", model, "--rows", 5, "--out", out)
            line = assert_one_line_error(result)
            assert name in line or MANIFEST in line, (name, i, line)
            assert not out.exists()


def test_tampered_guard_from_the_command_line(model, tmp_path):
    manifest = json.loads((model / MANIFEST).read_text())
    steps = manifest["pipeline"]["steps"]
    assert steps[-1]["step"] == "guard"
    edited = json.dumps({**manifest, "pipeline": {**manifest["pipeline"],
                                                  "steps": steps[:-1]}}).encode()
    (model / MANIFEST).write_bytes(edited)
    out = tmp_path / "o.csv"
    assert_one_line_error(run("sample", "--model", model, "--rows", 5, "--out", out),
                          "does not match its checksum")
    (model / DIGEST).write_text(f"{hashlib.sha256(edited).hexdigest()}  {MANIFEST}\n")
    assert_one_line_error(run("sample", "--model", model, "--rows", 5, "--out", out),
                          "fitted with the privacy guard")
    assert not out.exists()


# -- never destroy user files ---------------------------------------------------------------------
def test_generate_save_model_into_the_output_folder_is_refused_up_front(table_csv, tmp_path):
    """The issue's scenario: `--out out/bw.csv --save-model out` with `out/notes.txt`."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = run("generate", "--data", table_csv, "--target", "outcome", "--rows", 50,
                 "--out", out / "bw.csv", "--save-model", out, *FAST)
    assert_one_line_error(result, "--out", "is inside --save-model")
    assert "fitting" not in result.stdout  # refused before any work
    assert sorted(p.name for p in tmp_path.joinpath("out").iterdir()) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"
    # with the table elsewhere, the folder with the user's file is still refused
    result = run("generate", "--data", table_csv, "--target", "outcome", "--rows", 50,
                 "--out", tmp_path / "bw.csv", "--save-model", out, *FAST)
    assert_one_line_error(result, "not a clinisynth model (it holds notes.txt)")
    assert not (tmp_path / "bw.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # the default audit files beside --out are checked too
    result = run("generate", "--data", table_csv, "--target", "outcome", "--rows", 50,
                 "--out", tmp_path / "bw.csv", "--save-model", tmp_path / "m",
                 "--json", tmp_path / "m" / "a.json", *FAST)
    assert_one_line_error(result, "--json")


def test_generate_and_fit_replace_a_model_and_refuse_other_folders(table_csv, model, tmp_path):
    before = (model / MANIFEST).read_bytes()
    result = run("generate", "--data", table_csv, "--target", "outcome", "--rows", 40,
                 "--holdout-fraction", 0, "--out", tmp_path / "s.csv", "--save-model", model,
                 *FAST, "--seed", 9)
    assert result.exit_code == 0, result.output
    assert (model / MANIFEST).read_bytes() != before
    assert json.loads((model / MANIFEST).read_text())["params"]["seed"] == 9
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "data.csv").write_text("x")
    result = run("fit", "--data", tmp_path / "missing.csv", "--target", "outcome",
                 "--model", folder, *FAST)
    assert_one_line_error(result, "not a clinisynth model (it holds data.csv)")
    assert [p.name for p in folder.iterdir()] == ["data.csv"]


def test_fit_option_errors(table_csv, tmp_path):
    args = ("fit", "--data", table_csv, "--target", "outcome", "--model", tmp_path / "m")
    assert_one_line_error(run(*args, "--weights", "bogus=1"), "unknown generator 'bogus'")
    assert_one_line_error(run(*args, "--calibration", "magic"), "--calibration")
    assert_one_line_error(run(*args, "--seed", "-3"), "--seed must be a non-negative integer")
    assert_one_line_error(run(*args, "--max-search-seconds", "0"),
                          "--max-search-seconds must be positive")
    assert_one_line_error(run(*args, "--weights", "gmm", "--max-search-seconds", "5"),
                          "--max-search-seconds applies only to --weights learned")
    assert not (tmp_path / "m").exists()


# -- warnings, internal errors, --debug, for every command --------------------------------------
def test_every_command_is_wrapped():
    names = {c.name for c in app.registered_commands}
    assert names >= {"generate", "fit", "sample", "evaluate", "benchmark", "datasets", "schema"}
    for command in app.registered_commands:
        assert getattr(command.callback, "_clinisynth_guarded", False), command.name


class _WarningDatasets(dict):
    """Stands in for the dataset registry: listing it warns like real code and libraries do."""

    def values(self):
        for _ in range(3):
            warnings.warn("our own notice\nover two lines", UserWarning, stacklevel=1)
            warnings.warn("lbfgs failed to converge", ConvergenceWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
        warnings.warn("will change", FutureWarning, stacklevel=1)
        return super().values()


def test_warnings_are_one_line_each_and_deduplicated(monkeypatch):
    import clinisynth.cli.datasets as datasets_cli

    monkeypatch.setattr(datasets_cli, "DATASETS", _WarningDatasets(datasets_cli.DATASETS))
    result = run("datasets")
    assert result.exit_code == 0, result.output
    assert stderr_lines(result) == [
        "warning: our own notice over two lines",
        "warning: sklearn: lbfgs failed to converge (ConvergenceWarning; repeats hidden)",
    ]
    result = run("--debug", "datasets")  # --debug also shows what is meant for developers
    assert "warning: old API" in result.stderr and "warning: will change" in result.stderr
    assert ".py:" not in result.stderr and "warn(" not in result.stderr


def test_a_real_warning_from_fit_is_one_line(tmp_path):
    """A class of 5 rows: learned weights fall back to uniform, with a warning."""
    table = make_mixed_table(60)
    table.loc[table.index[:5], "outcome"] = "Rare"
    data = tmp_path / "t.csv"
    table.to_csv(data, index=False)
    result = run("fit", "--data", data, "--target", "outcome", "--model", tmp_path / "m",
                 "--calibration", "none", "--no-privacy-guard")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in stderr_lines(result) if "uniform weights are used" in ln]
    assert lines == ["warning: a target class has 5 rows; learning weights needs 6 per class, "
                     "so uniform weights are used"]
    assert "UserWarning" not in result.stderr and ".py:" not in result.stderr


class _Broken(dict):
    def values(self):
        raise RuntimeError("something\nbroke")


def test_internal_error_is_one_line_and_debug_shows_the_traceback(monkeypatch):
    import clinisynth.cli.datasets as datasets_cli

    monkeypatch.setattr(datasets_cli, "DATASETS", _Broken())
    result = run("datasets")
    assert result.exit_code == 1
    assert stderr_lines(result) == ["internal error: RuntimeError: something broke (rerun "
                                    "with --debug for the traceback)"]
    result = run("--debug", "datasets")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert stderr_lines(result)[-1].startswith("internal error: RuntimeError")


def test_debug_may_stand_anywhere_for_the_entry_point(monkeypatch, capsys):
    import clinisynth.cli.datasets as datasets_cli

    monkeypatch.setattr(datasets_cli, "DATASETS", _Broken())
    monkeypatch.setattr(sys, "argv", ["clinisynth", "datasets", "--debug"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    assert "Traceback" in capsys.readouterr().err


def test_user_errors_of_other_commands_are_one_line(tmp_path):
    result = run("evaluate", "--train", tmp_path / "a.csv", "--holdout", tmp_path / "b.csv",
                 "--synthetic", tmp_path / "c.csv", "--target", "y")
    assert_one_line_error(result, "does not exist")
    result = run("schema", "--dataset", "nope", "--out", tmp_path / "s.json")
    assert_one_line_error(result, "unknown dataset 'nope'")
    result = run("benchmark", "--out", tmp_path / "b", "--seeds", 1)
    assert_one_line_error(result, "give a table")


def test_a_file_system_error_is_one_line(model, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = run("sample", "--model", model, "--rows", 5, "--out", blocker / "o.csv")
    assert_one_line_error(result, "file.txt")
