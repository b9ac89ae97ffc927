"""The same grid on a local process pool, a local Dask cluster and (when installed) Ray: equal
results apart from timings and memory."""

from __future__ import annotations

import importlib.util
import re

import pandas as pd
import pytest
from bench_fakes import FAST, fake_audit, tiny_table

from clinisynth.benchmark import BenchmarkOptions, run_grid
from clinisynth.errors import ClinisynthError

MEASURED = ["fit_seconds", "sample_seconds", "audit_seconds", "peak_rss_mb", "rss_delta_mb"]
OPTS = BenchmarkOptions(synth_params=FAST)


def results(tmp_path, name, **engine):
    out = tmp_path / name
    run_grid([tiny_table(tmp_path)], ["smote", "hybrid"], 2, out, OPTS, audit_fn=fake_audit,
             **engine)
    rec = pd.read_csv(out / "results.csv")
    assert (rec.status == "ok").all(), rec.error.tolist()
    fakes = [pd.read_csv(out / p) for p in rec.synthetic_path]
    return rec.drop(columns=MEASURED), fakes


def assert_same(a, b):
    pd.testing.assert_frame_equal(a[0], b[0])
    for x, y in zip(a[1], b[1], strict=True):
        pd.testing.assert_frame_equal(x, y)


@pytest.fixture(scope="module")
def inline(tmp_path_factory):
    return results(tmp_path_factory.mktemp("inline"), "inline", engine="local", workers=1)


def test_process_pool_equals_inline(tmp_path, inline):
    assert_same(results(tmp_path, "pool", engine="local", workers=2), inline)


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="dask.distributed is not installed (extra: clinisynth[dask])")
def test_dask_local_cluster_equals_local_engine(tmp_path, inline):
    assert_same(results(tmp_path, "dask", engine="dask", workers=2), inline)


@pytest.mark.slow  # a local Ray cluster takes 15 s to 3 min to start on 2 busy cores
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="ray is not installed (extra: clinisynth[ray])")
def test_ray_local_cluster_equals_local_engine(tmp_path, inline):
    import bench_fakes
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(bench_fakes)  # Ray workers lack the tests' path
    assert_same(results(tmp_path, "ray", engine="ray", workers=2), inline)


def test_missing_engine_names_its_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith(("distributed", "ray")):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    for engine in ("dask", "ray"):
        with pytest.raises(ClinisynthError,
                           match=re.escape(f"pip install 'clinisynth[{engine}]'")):
            run_grid([tiny_table(tmp_path)], ["smote"], 1, tmp_path / engine, OPTS,
                     engine=engine, audit_fn=fake_audit)
