"""Writing files and directories atomically: all or nothing, never half-written.

A file is written to a hidden temporary sibling (``.name.XXXX.tmp``) and renamed into place
(:func:`atomic_path`). A directory is written to ``.name.new-XXXXXXXX`` and swapped in by
renames (:func:`atomic_dir`); :func:`recover_dir` repairs what a hard kill (SIGKILL, power loss)
between the renames can leave. An error, Ctrl-C or SIGTERM (the CLI turns it into
``KeyboardInterrupt``) at any point leaves the previous file or directory, or the new one,
whole, and no temporary behind.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from clinisynth.errors import ClinisynthError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = ""
    try:  # the name is known before the file exists: an interrupt while creating it (inside
        # mkstemp, before its result was assigned, it left the file behind) still removes it
        for _ in range(100):
            tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
            try:  # O_EXCL: never an existing file; mode 0666 less the umask, as open() makes
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                break
            except FileExistsError:
                tmp = ""
        else:
            raise ClinisynthError(f"could not create a temporary file beside {path}")
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


#: leftovers of :func:`atomic_dir` beside ``name``: ``.name.new-XXXXXXXX`` / ``.name.old-XXXXXXXX``
_LEFTOVER = r"^\.{name}\.(new|old)-[a-z0-9_]{{8}}$"


def dir_leftovers(path: str | Path, kind: str) -> list[Path]:
    """The ``.name.<kind>-XXXXXXXX`` directories an interrupted :func:`atomic_dir` left."""
    path = Path(path)
    pattern = re.compile(_LEFTOVER.format(name=re.escape(path.name)))
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir()
                  if p.is_dir() and not p.is_symlink() and (m := pattern.match(p.name))
                  and m.group(1) == kind)


def recover_dir(path: str | Path, *, clean: bool = False) -> None:
    """Undo what an interrupted :func:`atomic_dir` left beside ``path``.

    The recovery rule, which makes every interruption point safe:

    - ``path`` missing and one ``.name.old-*`` present: the swap stopped after moving the old
      directory aside and before moving the new one in; the old one is whole, so it is renamed
      back to ``path``. (Several ``.name.old-*`` with ``path`` missing: refused, ambiguous.)
    - With ``clean``, also delete what is stale: every ``.name.new-*`` (a write that never
      reached the swap, possibly incomplete) and, once ``path`` exists, every ``.name.old-*``
      (a swap that completed but did not get to delete the previous directory).

    Loading calls this without ``clean`` (it deletes nothing); saving calls it with ``clean``.
    """
    path = Path(path)
    old = dir_leftovers(path, "old")
    if not path.exists() and not path.is_symlink() and old:
        if len(old) > 1:
            names = ", ".join(p.name for p in old)
            raise ClinisynthError(f"'{path}' is missing and several interrupted saves left "
                                  f"previous copies ({names}); rename the one to keep to "
                                  f"'{path.name}'")
        os.rename(old[0], path)
        old = []
    if clean:
        for leftover in dir_leftovers(path, "new") + old:
            shutil.rmtree(leftover)


@contextmanager
def atomic_dir(path: str | Path, check: Callable[[Path], None]) -> Iterator[Path]:
    """Yield a fresh directory beside ``path``; it becomes ``path`` only if the block succeeds.

    ``check(path)`` raises :class:`ClinisynthError` when an existing ``path`` may not be
    replaced; it runs before anything is written and again just before the swap.

    Steps: write into ``.name.new-X``; rename ``path`` to ``.name.old-Y``; rename
    ``.name.new-X`` to ``path``; delete ``.name.old-Y``. An exception or interrupt at any step
    leaves the old directory or the new one whole at ``path`` (an interrupt between the two
    renames renames the old one back); a hard kill leaves a state that :func:`recover_dir` (run
    first here, and by readers) repairs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path, clean=True)
    _check_replaceable(path, check)
    new = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    old: Path | None = None
    try:
        yield new
        _fsync_tree(new)
        if path.exists() or path.is_symlink():
            _check_replaceable(path, check)  # again: it may have changed meanwhile
            old = _free_sibling(path, "old")
            os.rename(path, old)
        os.rename(new, path)
        _fsync_one(path.parent)
    except BaseException:
        if old is not None and old.exists() and not path.exists():
            os.rename(old, path)
        raise
    finally:
        if new.exists():
            shutil.rmtree(new, ignore_errors=True)
        if old is not None and old.exists() and path.exists():
            shutil.rmtree(old, ignore_errors=True)


def _check_replaceable(path: Path, check: Callable[[Path], None]) -> None:
    if path.is_symlink():
        raise ClinisynthError(f"'{path}' is a symbolic link; give the directory it points to")
    if path.exists() and not path.is_dir():
        raise ClinisynthError(f"'{path}' is a file, not a directory")
    if path.exists():
        check(path)


def _free_sibling(path: Path, kind: str) -> Path:
    while True:
        candidate = path.with_name(f".{path.name}.{kind}-{secrets.token_hex(4)}")
        if not candidate.exists():
            return candidate


def _fsync_tree(path: Path) -> None:
    """Flush the files of a directory we wrote, then the directory's entries, to disk."""
    for child in path.iterdir():
        if child.is_file():
            _fsync_one(child)
    _fsync_one(path)


def _fsync_one(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
