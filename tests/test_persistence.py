"""Model directories: what is written, what is refused, what loading verifies, and that an
interrupted save (an exception, Ctrl-C, or a hard kill at any step) leaves a whole model."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from clinisynth import HybridSynthesizer, __version__
from clinisynth.errors import ClinisynthError
from clinisynth.io.atomic import recover_dir
from clinisynth.persistence import (
    ARRAYS,
    DIGEST,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    check_model_target,
    read_model,
    write_model,
)
from conftest import REPO, make_mixed_table


@pytest.fixture(scope="module")
def fitted() -> HybridSynthesizer:
    """A small guarded, calibrated model (gmm only: fast)."""
    return HybridSynthesizer(weights="gmm", calibration=["moment"], seed=0).fit(
        make_mixed_table(120), "outcome")


@pytest.fixture
def model(fitted, tmp_path) -> Path:
    path = tmp_path / "model"
    fitted.save(path)
    return path


def leftovers(path: Path) -> list[str]:
    """Hidden siblings an atomic write may leave: ``.model.*``."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}."))


def rehash(path: Path, manifest_bytes: bytes | None = None, **changes) -> None:
    """Rewrite the manifest (edited by ``changes``, or replaced by raw bytes) and its digest, as
    a forger would: the checksums then pass and the semantic checks must catch the problem."""
    if manifest_bytes is None:
        manifest = json.loads((path / MANIFEST).read_text())
        manifest.update(changes)
        manifest_bytes = json.dumps(manifest).encode()
    (path / MANIFEST).write_bytes(manifest_bytes)
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    (path / DIGEST).write_text(f"{digest}  {MANIFEST}\n")


def rehash_file(path: Path, name: str) -> None:
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    rehash(path, json.dumps(manifest).encode())


def without_guard(manifest: dict) -> dict:
    """The manifest with the guard's step taken out of the pipeline."""
    steps = [s for s in manifest["pipeline"]["steps"] if s["step"] != "guard"]
    return {**manifest, "pipeline": {**manifest["pipeline"], "steps": steps}}


def one_line_error(path: Path) -> str:
    with pytest.raises(ClinisynthError) as info:
        HybridSynthesizer.load(path)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- what is written -----------------------------------------------------------------------------
def test_layout_manifest_and_digest(model, fitted):
    assert sorted(p.name for p in model.iterdir()) == [ARRAYS, MANIFEST, DIGEST]
    manifest = json.loads((model / MANIFEST).read_bytes().decode("utf-8"))
    assert manifest["format"] == FORMAT and manifest["format_version"] == FORMAT_VERSION == 3
    assert manifest["clinisynth_version"] == __version__
    assert manifest["files"] == {
        ARRAYS: hashlib.sha256((model / ARRAYS).read_bytes()).hexdigest()}
    assert manifest["params"]["privacy_guard"] is True
    assert [s["step"] for s in manifest["pipeline"]["steps"]][-1] == "guard"
    digest = hashlib.sha256((model / MANIFEST).read_bytes()).hexdigest()
    assert (model / DIGEST).read_text() == f"{digest}  {MANIFEST}\n"  # sha256sum -c format
    assert leftovers(model) == []
    loaded = HybridSynthesizer.load(model)
    assert loaded.guard_ is not None and loaded.weights_ == fitted.weights_


def test_arrays_are_plain_numpy_and_never_unpickled(model):
    with zipfile.ZipFile(model / ARRAYS) as zf:
        assert all(name.endswith(".npy") for name in zf.namelist())
    # a forged npz holding an object array (which needs pickle) is refused, not unpickled
    buf = io.BytesIO()
    np.savez(buf, class_counts=np.array([{"x": 1}], dtype=object))
    (model / ARRAYS).write_bytes(buf.getvalue())
    rehash_file(model, ARRAYS)
    assert "unsafe or unreadable" in one_line_error(model)


# -- saving refuses to destroy what is not a model ----------------------------------------------
def test_save_refuses_a_directory_holding_other_files(fitted, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "bw.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ClinisynthError, match=r"not a clinisynth model \(it holds bw.csv, "
                                              r"notes.txt\)"):
        fitted.save(out)
    assert sorted(p.name for p in out.iterdir()) == ["bw.csv", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    assert leftovers(out) == []


def test_save_refuses_a_model_with_a_user_file_added(fitted, model):
    (model / "notes.txt").write_text("mine")
    with pytest.raises(ClinisynthError, match="notes.txt"):
        fitted.save(model)
    assert (model / "notes.txt").read_text() == "mine"
    assert "unexpected file 'notes.txt'" in one_line_error(model)


def test_save_refuses_a_file_a_symlink_and_a_foreign_manifest(fitted, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ClinisynthError, match="is an existing file"):
        fitted.save(target)
    assert target.read_text() == "x"
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(ClinisynthError, match="symbolic link"):
        fitted.save(tmp_path / "link")
    other = tmp_path / "other"
    other.mkdir()
    (other / MANIFEST).write_text('{"format": "something-else"}')
    with pytest.raises(ClinisynthError, match="not a clinisynth model"):
        fitted.save(other)


def test_save_into_new_or_empty_directory_and_replace_a_model(fitted, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    fitted.save(empty)
    fitted.save(tmp_path / "deep" / "new")
    before = (empty / MANIFEST).read_bytes()
    HybridSynthesizer(weights="gmm", calibration=None, privacy_guard=False, seed=1).fit(
        make_mixed_table(80, seed=1), "outcome").save(empty)
    assert (empty / MANIFEST).read_bytes() != before
    assert json.loads((empty / MANIFEST).read_text())["params"]["seed"] == 1
    HybridSynthesizer.load(empty)
    HybridSynthesizer.load(tmp_path / "deep" / "new")
    assert leftovers(empty) == [] and leftovers(tmp_path / "deep" / "new") == []


# -- loading verifies everything -----------------------------------------------------------------
@pytest.mark.parametrize("name", [ARRAYS, MANIFEST, DIGEST])
@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_one_flipped_byte_in_any_file_is_refused(model, name, where):
    data = bytearray((model / name).read_bytes())
    i = int(where * len(data)) if where >= 0 else len(data) - 1
    data[i] ^= 0x01
    (model / name).write_bytes(bytes(data))
    message = one_line_error(model)
    assert name in message or MANIFEST in message


@pytest.mark.parametrize("name, message", [(ARRAYS, f"'{ARRAYS}' is missing"),
                                           (DIGEST, f"'{DIGEST}' is missing"),
                                           (MANIFEST, "has no manifest.json")])
def test_missing_file(model, name, message):
    (model / name).unlink()
    assert message in one_line_error(model)


def test_extra_file_and_missing_directory(model, tmp_path):
    (model / "extra.npy").write_bytes(b"\x93NUMPY")
    assert "unexpected file 'extra.npy'" in one_line_error(model)
    assert "does not exist" in one_line_error(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "is empty" in one_line_error(tmp_path / "empty")


def test_truncated_arrays_even_with_a_matching_checksum(model):
    data = (model / ARRAYS).read_bytes()
    (model / ARRAYS).write_bytes(data[: len(data) // 2])
    assert "does not match its checksum" in one_line_error(model)
    rehash_file(model, ARRAYS)  # a forger's re-hash: the npz itself is still unreadable
    assert "truncated, unsafe or unreadable" in one_line_error(model)


def test_manifest_not_utf8_or_not_json(model):
    raw = (model / MANIFEST).read_bytes()
    rehash(model, raw.replace(b'"format"', b'"f\xe9rmat"', 1))
    assert "is not UTF-8 text" in one_line_error(model)
    rehash(model, raw[: len(raw) // 2])
    assert "is not valid JSON" in one_line_error(model)
    rehash(model, b"[1, 2]")
    assert "not a clinisynth model manifest" in one_line_error(model)
    (model / DIGEST).write_text("not a digest\n")
    assert "is not a SHA-256 line" in one_line_error(model)


def test_incompatible_format_version(model, tmp_path):
    rehash(model, format_version=1)
    message = one_line_error(model)
    assert "format version 1" in message and f"reads format version {FORMAT_VERSION}" in message
    # a format-1 directory (no digest file) says the same, and may be replaced by a save
    (model / DIGEST).unlink()
    assert "format version 1" in one_line_error(model)
    check_model_target(model)


def test_files_listed_in_the_manifest_are_plain_names(model):
    manifest = json.loads((model / MANIFEST).read_text())
    manifest["files"]["../escape.npz"] = "0" * 64
    rehash(model, json.dumps(manifest).encode())
    assert "invalid file name '../escape.npz'" in one_line_error(model)


def test_guard_cannot_be_removed(model):
    """Edited to drop the guard: the checksum fails; re-hashed as well: the semantic check."""
    manifest = json.loads((model / MANIFEST).read_text())
    edited = json.dumps(without_guard(manifest), indent=1).encode()
    (model / MANIFEST).write_bytes(edited)
    assert "does not match its checksum" in one_line_error(model)
    rehash(model, edited)
    assert "fitted with the privacy guard but holds no guard state" in one_line_error(model)
    rehash(model, pipeline=without_guard(manifest)["pipeline"],
           params={**manifest["params"], "privacy_guard": {"percentile": 10}})
    assert "fitted with the privacy guard" in one_line_error(model)  # guard options: same rule


def test_guard_records_missing_is_inconsistent(model):
    with np.load(model / ARRAYS) as npz:
        arrays = {k: npz[k] for k in npz.files if k.split(".")[1] != "guard"}
    np.savez_compressed(model / ARRAYS, **arrays)
    rehash_file(model, ARRAYS)
    assert "inconsistent (missing entry 'records')" in one_line_error(model)


# -- interruption: exceptions and Ctrl-C at every step ------------------------------------------
def seed_of(path: Path) -> int:
    return read_model(path)[0]["params"]["seed"]


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("when", ["before", "after"])
def test_interrupt_at_each_rename_leaves_a_whole_model(fitted, model, monkeypatch, step, when):
    """Ctrl-C just before or just after rename ``step`` (1: old aside, 2: new in place)."""
    import clinisynth.io.atomic as atomic_dirs

    new = HybridSynthesizer(weights="gmm", calibration=None, privacy_guard=False, seed=7).fit(
        make_mixed_table(80, seed=1), "outcome")
    real_rename, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == step and when == "before":
            raise KeyboardInterrupt
        real_rename(src, dst)
        if len(calls) == step and when == "after":
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic_dirs.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        new.save(model)
    monkeypatch.setattr(atomic_dirs.os, "rename", real_rename)
    expected = 7 if (step, when) == (2, "after") else 0
    assert seed_of(model) == expected
    HybridSynthesizer.load(model)
    assert leftovers(model) == []


def test_interrupt_while_writing_keeps_the_old_model(fitted, model, monkeypatch):
    before = {p.name: p.read_bytes() for p in model.iterdir()}

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(model)
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert leftovers(model) == []


# -- a hard kill at each step, then recovery -----------------------------------------------------
KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import clinisynth.io.atomic as atomic_dirs
    from clinisynth import persistence

    path, point = sys.argv[1], sys.argv[2]
    real_rename, calls = os.rename, []

    def rename(src, dst):
        real_rename(src, dst)
        calls.append(src)
        if point == f"rename{len(calls)}":
            os.kill(os.getpid(), signal.SIGKILL)

    def savez(file, **arrays):
        np.savez(file, **arrays)
        os.kill(os.getpid(), signal.SIGKILL)

    atomic_dirs.os.rename = rename
    if point == "writing":
        persistence.np.savez_compressed = savez
    persistence.write_model(path, {"params": {"seed": 2}}, {"a": np.arange(3)})
""")


@pytest.mark.parametrize("point, survivor", [("writing", 1), ("rename1", 1), ("rename2", 2)])
def test_hard_kill_at_each_step_then_recovery(tmp_path, point, survivor):
    """SIGKILL (no cleanup at all) while writing, after moving the old model aside, and after
    moving the new one in: loading finds a whole model (old, old, new), and the next save
    removes every leftover. This is the recovery rule of ``clinisynth.io.atomic.recover_dir``."""
    path = tmp_path / "m"
    write_model(path, {"params": {"seed": 1}}, {"a": np.arange(2)})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(path), point], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert leftovers(path), "the kill should have left a temporary behind"
    if point == "rename1":
        assert not path.exists()  # between the two renames: only the hidden copies exist
    manifest, arrays = read_model(path)  # recovers (renames the old one back), deletes nothing
    assert manifest["params"]["seed"] == survivor
    assert len(arrays["a"]) == survivor + 1
    write_model(path, {"params": {"seed": 3}}, {"a": np.arange(4)})
    assert seed_of(path) == 3 and leftovers(path) == []


def test_recovery_is_narrow(tmp_path):
    """Only ``.name.old-XXXXXXXX`` / ``.name.new-XXXXXXXX`` are ours; several old copies with the
    model missing is ambiguous and refused; a user's look-alike is never touched."""
    path = tmp_path / "m"
    write_model(path, {"params": {"seed": 1}}, {"a": np.arange(2)})
    (tmp_path / ".m.old-backup").mkdir()
    (tmp_path / ".m.new").mkdir()
    write_model(path, {"params": {"seed": 2}}, {"a": np.arange(2)})
    assert (tmp_path / ".m.old-backup").is_dir() and (tmp_path / ".m.new").is_dir()
    os.rename(path, tmp_path / ".m.old-aaaaaaaa")
    write_model(tmp_path / "x", {}, {"a": np.arange(1)})
    os.rename(tmp_path / "x", tmp_path / ".m.old-bbbbbbbb")
    with pytest.raises(ClinisynthError, match="several interrupted saves"):
        recover_dir(path)


def test_no_pickle_anywhere_in_the_source():
    """No module may unpickle: no pickle import, no allow_pickle=True, no torch.load without
    weights_only=True."""
    import re

    for file in (REPO / "src" / "clinisynth").rglob("*.py"):
        text = file.read_text()
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|joblib|dill|cloudpickle)\b", text,
                             re.MULTILINE), file
        assert "allow_pickle=True" not in text, file
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (file, call)
