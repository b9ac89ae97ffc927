"""Saving and loading fitted models: no pickle, every file checksummed, atomic replacement.

A model directory holds exactly three files:

- ``arrays.npz``: numpy arrays (generator parameters, calibration maps, the guard's records),
  read with ``allow_pickle=False``;
- ``manifest.json``: UTF-8 JSON with the format name and version, the clinisynth version that
  wrote it, the SHA-256 of every other file (``files``), and the model's configuration and
  fitted state;
- ``manifest.sha256``: the SHA-256 of ``manifest.json`` in ``sha256sum`` format (so
  ``sha256sum -c manifest.sha256`` checks it by hand).

Loading verifies, in order: the digest file, the manifest against it, UTF-8 and JSON, the format
name and version, the set of files (none missing, none extra), each file's checksum, and the
arrays themselves; any failure is a one-line :class:`ClinisynthError` saying which. A model
file handed over by someone else therefore cannot execute code, and an edited or damaged one is
refused rather than half-used.

Saving never deletes anything that is not a model: an existing ``path`` is replaced only when it
is empty or holds only a clinisynth model's files; the replacement is atomic
(:func:`clinisynth.io.atomic.atomic_dir`: an interrupted save leaves the old model or the new
one, whole).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from clinisynth.errors import ClinisynthError
from clinisynth.io.atomic import atomic_dir, recover_dir
from clinisynth.version import __version__

FORMAT = "clinisynth-model"
#: 3: the pipeline's steps, one entry each (``pipeline.steps``); 2: manifest.sha256 and per-file
#: checksums, a fixed set of components; 1: manifest.json + arrays.npz, unchecked
FORMAT_VERSION = 3
MANIFEST, DIGEST, ARRAYS = "manifest.json", "manifest.sha256", "arrays.npz"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- saving ----------------------------------------------------------------------------------------
def write_model(path: str | Path, content: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write a model directory atomically; ``content`` goes into the manifest as is."""
    path = Path(path)
    check_model_target(path)
    with atomic_dir(path, check=check_model_target) as tmp:
        np.savez_compressed(tmp / ARRAYS, **{k: np.asarray(v) for k, v in arrays.items()})
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "clinisynth_version": __version__,
                    "files": {ARRAYS: _sha256((tmp / ARRAYS).read_bytes())},
                    **content}
        data = json.dumps(manifest, indent=1, default=_json_default).encode("utf-8")
        (tmp / MANIFEST).write_bytes(data)
        (tmp / DIGEST).write_text(f"{_sha256(data)}  {MANIFEST}\n", encoding="ascii")


def check_model_target(path: str | Path) -> None:
    """Raise a one-line :class:`ClinisynthError` unless a model may be saved at ``path``.

    Allowed: a path that does not exist, an empty directory, or a directory holding only a
    clinisynth model's files (which are then replaced). Refused: a file, a symbolic link, or a
    directory with anything else in it, since saving would delete it. Nothing is written.
    """
    path = Path(path)
    if path.is_symlink():
        raise ClinisynthError(f"model directory '{path}' is a symbolic link; give a real "
                              "directory")
    if not path.exists():
        return
    if not path.is_dir():
        raise ClinisynthError(f"model directory '{path}' is an existing file; give a directory")
    foreign = _foreign_entries(path)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ClinisynthError(
            f"'{path}' is not empty and is not a clinisynth model (it holds {shown}); saving a "
            "model replaces its directory, so choose a new or empty directory")


def _foreign_entries(path: Path) -> list[str]:
    """Entries of ``path`` that are not the files of a clinisynth model (sorted)."""
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return []
    manifest = _peek_manifest(path / MANIFEST)
    if manifest is None:  # no manifest of ours: every entry is someone else's
        return entries
    files = manifest.get("files")
    declared = {MANIFEST, DIGEST, ARRAYS}
    if isinstance(files, dict):
        declared |= {n for n in files if isinstance(n, str) and _plain_name(n)}
    return [n for n in entries if n not in declared or not (path / n).is_file()
            or (path / n).is_symlink()]


def _peek_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path`` if it is a clinisynth one (any version), else None."""
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if isinstance(manifest, dict) and manifest.get("format") == FORMAT:
        return manifest
    return None


def is_linked_model(path: str | Path) -> bool:
    """Whether ``path`` holds a linked-tables model (read before the verified load)."""
    manifest = _peek_manifest(Path(path) / MANIFEST)
    return bool(manifest and manifest.get("linked"))


# -- loading ---------------------------------------------------------------------------------------
def read_model(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model directory; any problem is a one-line :class:`ClinisynthError`."""
    path = Path(path)
    recover_dir(path)  # a save killed between its renames: put the whole old model back
    if not path.exists():
        raise ClinisynthError(f"model directory '{path}' does not exist")
    if not path.is_dir():
        raise ClinisynthError(f"'{path}' is a file, not a model directory")
    entries = {p.name for p in path.iterdir()}
    if MANIFEST not in entries:
        what = "is empty" if not entries else "has no manifest.json"
        raise ClinisynthError(f"'{path}' is not a clinisynth model directory (it {what})")
    raw = _read_bytes(path / MANIFEST)
    if DIGEST not in entries:
        old = _peek_manifest(path / MANIFEST)
        if old is not None and old.get("format_version") != FORMAT_VERSION:
            _incompatible(path, old)
        raise ClinisynthError(f"model file '{DIGEST}' is missing from '{path}'")
    if _sha256(raw) != _read_digest(path / DIGEST):
        raise ClinisynthError(f"'{path / MANIFEST}' does not match its checksum in {DIGEST}: "
                              "the model was edited or damaged")
    manifest = _parse_manifest(path / MANIFEST, raw)
    files = _declared_files(path, manifest)
    missing = sorted(set(files) - entries)
    if missing:
        raise ClinisynthError(f"model file '{missing[0]}' is missing from '{path}'")
    extra = sorted(entries - set(files) - {MANIFEST, DIGEST})
    if extra:
        raise ClinisynthError(f"unexpected file '{extra[0]}' in model directory '{path}' "
                              "(a model directory holds only the model's files)")
    for name, digest in files.items():
        if not (path / name).is_file() or (path / name).is_symlink():
            raise ClinisynthError(f"model entry '{path / name}' is not a regular file")
        if _sha256(_read_bytes(path / name)) != digest:
            raise ClinisynthError(f"model file '{path / name}' does not match its checksum in "
                                  f"{MANIFEST}: the model was edited or damaged")
    return manifest, _read_arrays(path / ARRAYS)


def _parse_manifest(file: Path, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClinisynthError(f"'{file}' is not UTF-8 text (byte {exc.start})") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClinisynthError(f"'{file}' is not valid JSON ({exc.msg}, line {exc.lineno})"
                              ) from None
    except RecursionError:
        raise ClinisynthError(f"'{file}' is not valid JSON (nested too deeply)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ClinisynthError(f"'{file}' is not a clinisynth model manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        _incompatible(file.parent, manifest)
    return manifest


def _incompatible(path: Path, manifest: dict[str, Any]) -> None:
    raise ClinisynthError(
        f"'{path}' holds a model of format version {manifest.get('format_version')!r} (written by "
        f"clinisynth {manifest.get('clinisynth_version', 'unknown')}); clinisynth {__version__} "
        f"reads format version {FORMAT_VERSION}: fit the model again")


def _declared_files(path: Path, manifest: dict[str, Any]) -> dict[str, str]:
    files = manifest.get("files")
    if not isinstance(files, dict) or ARRAYS not in files:
        raise ClinisynthError(f"'{path / MANIFEST}' does not list the model's files")
    for name, digest in files.items():
        if not _plain_name(name) or name in (MANIFEST, DIGEST):
            raise ClinisynthError(f"'{path / MANIFEST}' lists an invalid file name {name!r}")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ClinisynthError(f"'{path / MANIFEST}' has an invalid checksum for '{name}'")
    return files


def _read_digest(file: Path) -> str:
    """The hex digest of the exact line ``<sha256>  manifest.json\\n`` (as written; any other
    byte, even whitespace, means the file was edited or damaged)."""
    match = re.fullmatch(rb"([0-9a-f]{64})  " + re.escape(MANIFEST.encode()) + rb"\n",
                         _read_bytes(file))
    if match is None:
        raise ClinisynthError(f"'{file}' is not a SHA-256 line for {MANIFEST}: the model was "
                              "edited or damaged")
    return match.group(1).decode("ascii")


def _read_arrays(file: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(file, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile, zlib, EOF and format errors: all mean "unreadable"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClinisynthError(f"model file '{file}' is truncated, unsafe or unreadable "
                              f"({reason})") from None


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise ClinisynthError(f"cannot read model file '{file}' ({exc.strerror})") from None


def _plain_name(name: Any) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name and "\x00" not in name)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model manifest")


def split_arrays(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays stored under ``prefix.``, with the prefix removed."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
