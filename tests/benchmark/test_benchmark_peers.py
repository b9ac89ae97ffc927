"""SDV adapters: our columns, order and dtypes back, seeded, and SDV kept optional."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest

from clinisynth.benchmark import make_synthesizer
from clinisynth.benchmark.peers import PEERS, SDVSynthesizer, restore_frame
from clinisynth.errors import ClinisynthError
from conftest import make_mixed_table

needs_sdv = pytest.mark.skipif(importlib.util.find_spec("sdv") is None,
                               reason="SDV is not installed (extra: clinisynth[peers])")
QUICK = {"ctgan": {"epochs": 2}, "tvae": {"epochs": 2}, "copulagan": {"epochs": 2},
         "gaussian_copula": {}}


@needs_sdv
@pytest.mark.parametrize("name", list(PEERS))
def test_adapter_returns_our_columns_and_dtypes(name):
    real = make_mixed_table(n=150, seed=1)
    syn = make_synthesizer(name, seed=0, params=QUICK[name])
    assert isinstance(syn, SDVSynthesizer)
    fake = syn.fit(real, "outcome").sample(77)
    assert len(fake) == 77 and list(fake.columns) == list(real.columns)
    assert fake.dtypes.to_dict() == real.dtypes.to_dict()
    assert set(fake["outcome"]) <= set(real["outcome"])
    assert set(fake["sex"].dropna()) <= {"F", "M"}
    assert fake["age"].between(real["age"].min(), real["age"].max()).all()
    again = make_synthesizer(name, seed=0, params=QUICK[name]).fit(real, "outcome").sample(77)
    pd.testing.assert_frame_equal(fake, again)  # the seed fixes the fit, SDV fixes sampling


@needs_sdv
def test_adapter_declares_target_categorical():
    real = make_mixed_table(n=150, seed=1)
    real["outcome"] = (real["outcome"] == "Yes").astype(int)  # numeric class codes
    syn = SDVSynthesizer("gaussian_copula", seed=0).fit(real, "outcome")
    meta = syn.model_.metadata.to_dict()["tables"]["table"]["columns"]
    assert meta["outcome"]["sdtype"] == "categorical"
    assert set(syn.sample(200)["outcome"]) <= {0, 1}


def test_restore_frame_orders_columns_and_casts():
    like = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [1.5, None]})
    fake = pd.DataFrame({"c": [0.1, 0.2], "b": ["y", "x"], "a": [1.2, 2.7]})
    out = restore_frame(fake, like)
    assert list(out.columns) == ["a", "b", "c"] and out["a"].tolist() == [1, 3]
    assert out.dtypes.to_dict() == like.dtypes.to_dict()


def test_missing_sdv_is_a_one_line_user_error(monkeypatch):
    import clinisynth.benchmark.peers as peers

    monkeypatch.setattr(peers, "sdv_version", lambda: None)
    with pytest.raises(ClinisynthError, match="'ctgan' needs SDV.*clinisynth's 'peers' extra"):
        make_synthesizer("ctgan", seed=0)


def test_clinisynth_works_without_sdv(tmp_path):
    """With SDV unimportable: the package and CLI load, and asking for a peer exits 2."""
    code = (
        "import sys; sys.modules['sdv'] = None\n"
        "import clinisynth, clinisynth.benchmark, clinisynth.cli\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(clinisynth.cli.app, ['benchmark', '--dataset', 'breast_cancer',"
        f" '--synthesizers', 'hybrid,tvae', '--out', r'{tmp_path / 'o'}'])\n"
        "print(r.exit_code, r.output)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 ") and "'tvae' needs SDV" in done.stdout
    assert "install clinisynth's 'peers' extra" in done.stdout
    assert "planning" not in done.stdout  # options are checked before any progress bar
