"""Ctrl-C and SIGTERM during fit, sample and write: exit 130 with one line `interrupted`, no
partial output, no temporary file, and the previous file or model untouched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from clinisynth.cli import app
from conftest import REPO, make_mixed_table

CLI = [sys.executable, "-c", "from clinisynth.cli import main; main()"]
FAST = ["--weights", "gmm", "--calibration", "none"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def hidden(folder: Path) -> list[str]:
    """Temporaries an atomic write may leave: ``.name.*.tmp`` files, ``.name.new-*`` dirs..."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class Running:
    """A CLI subprocess whose stdout is collected by a thread, to wait for a line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(CLI + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)

    def wait_for(self, condition, what: str, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"exited ({self.proc.returncode}) before {what}: "
                                     f"{''.join(self.out)} {self.proc.stderr.read()}")
            if time.monotonic() > end:
                self.proc.kill()
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def finish(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A table and a small model (gmm, no guard, no calibration: fast to fit and to sample)."""
    folder = tmp_path_factory.mktemp("interrupt")
    make_mixed_table(150).to_csv(folder / "t.csv", index=False)
    result = CliRunner().invoke(app, ["fit", "--data", str(folder / "t.csv"), "--target",
                                      "outcome", "--model", str(folder / "model"), *FAST,
                                      "--no-privacy-guard"])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def work(workdir, tmp_path) -> Path:
    shutil.copy(workdir / "t.csv", tmp_path / "t.csv")
    shutil.copytree(workdir / "model", tmp_path / "model")
    return tmp_path


@pytest.mark.parametrize("command, sig", [("generate", signal.SIGINT),
                                          ("fit", signal.SIGTERM)])
def test_signal_during_fit(work, command, sig):
    """The learned weight search is running when the signal arrives: nothing is written, the
    existing model is untouched."""
    (work / "out.csv").write_text("old table\n")
    before = snapshot(work)
    args = [command, "--data", "t.csv", "--target", "outcome", "--seed", "1"]
    args += (["--rows", "50", "--out", "out.csv", "--save-model", "model"]
             if command == "generate" else ["--model", "model"])
    run = Running(args, work)
    run.wait_for(lambda: any("fitting on" in line for line in run.out), "fitting")
    time.sleep(0.5)
    code, err = run.finish(sig)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in err
    assert snapshot(work) == before
    assert hidden(work) == []


def test_sigterm_while_writing_keeps_the_old_file(work):
    """A large draw; the signal is sent once the temporary output file exists."""
    (work / "big.csv").write_text("old table\n")
    run = Running(["sample", "--model", "model", "--rows", "200000", "--out", "big.csv"], work)
    run.wait_for(lambda: any(p.name.startswith(".big.csv.") for p in work.iterdir()),
                 "the temporary output file", timeout=300)
    code, err = run.finish(signal.SIGTERM)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert (work / "big.csv").read_text() == "old table\n"
    assert hidden(work) == []


def test_sigint_while_sampling_leaves_no_output(work):
    run = Running(["sample", "--model", "model", "--rows", "200000", "--out", "new.csv"], work)
    run.wait_for(lambda: any("drawing" in line for line in run.out), "the draw")
    code, err = run.finish(signal.SIGINT)
    assert code == 130, err
    assert not (work / "new.csv").exists()
    assert hidden(work) == []


def test_interrupt_in_the_middle_of_a_write_in_process(work, monkeypatch):
    """Deterministic version: the CSV writer is interrupted after writing part of the file."""
    (work / "out.csv").write_text("old table\n")
    real = pd.DataFrame.to_csv

    def half_then_interrupt(self, path, *args, **kwargs):
        real(self.head(len(self) // 2), path, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_interrupt)
    result = CliRunner().invoke(app, ["sample", "--model", str(work / "model"), "--rows", "100",
                                      "--out", str(work / "out.csv")])
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted"
    assert (work / "out.csv").read_text() == "old table\n"
    assert hidden(work) == []


main_thread_only = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                      reason="signal handlers can only be set in the main thread")


@main_thread_only
def test_a_signal_during_a_native_import_is_raised_when_the_import_returns():
    """The CLI's handler raised KeyboardInterrupt inside PyTorch's import, where it crossed
    C++ and aborted the process; inside ``interrupts_deferred`` it waits for the block's end."""
    from clinisynth.cli.app import signals_as_interrupt
    from clinisynth.interrupts import interrupts_deferred

    steps = []
    with pytest.raises(KeyboardInterrupt), signals_as_interrupt():
        with interrupts_deferred():
            with interrupts_deferred():  # nested: only the outermost block re-raises
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here and must not raise
                steps.append("inner done")
            steps.append("outer done")
        steps.append("after the block")  # not reached: the signal is raised again first
    assert steps == ["inner done", "outer done"]


@main_thread_only
def test_a_signal_deferred_by_a_failing_block_is_dropped_with_it():
    from clinisynth.cli.app import signals_as_interrupt
    from clinisynth.interrupts import interrupts_deferred

    with signals_as_interrupt():
        with pytest.raises(ImportError), interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            raise ImportError("no such module")
        with interrupts_deferred():  # a later block does not inherit the dropped signal
            time.sleep(0.01)
