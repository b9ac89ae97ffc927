"""atomic_path: an interrupt at any point leaves the old file or the new one, and no temporary."""

import os

import pytest

from clinisynth.io.atomic import atomic_path


def test_an_interrupt_while_the_temporary_is_created_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C arriving just after the temporary file exists but before its name was handed
    back (as it can inside tempfile.mkstemp) must not leave the file behind."""
    (tmp_path / "out.csv").write_text("old")
    real_open = os.open

    def open_then_interrupt(path, flags, mode=0o777, *args, **kwargs):
        os.close(real_open(path, flags, mode, *args, **kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "out.csv") as tmp:
        tmp.write_text("new")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert (tmp_path / "out.csv").read_text() == "old"


def test_the_new_file_replaces_the_old_with_the_usual_permissions(tmp_path):
    (tmp_path / "out.csv").write_text("old")
    with atomic_path(tmp_path / "out.csv") as tmp:
        tmp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert (tmp_path / "out.csv").read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o666 & ~umask
