"""Run MOSTLY AI's open engine (TabularARGN) on a parent table and one child table, as a peer.

This script runs INSIDE the engine's own virtual environment (its pins, transformers and
opacus among them, clash with clinisynth's) and does not import clinisynth. Set it up once:

    python3.11 -m venv /work/peers/mostly
    echo "torch==2.13.0" > /tmp/mostly_constraints.txt
    /work/peers/mostly/bin/pip install -c /tmp/mostly_constraints.txt mostlyai-engine==2.7.3
    /work/peers/mostly/bin/pip uninstall -y torchvision torchaudio

(the torchvision and torchaudio wheels pip picks are built for another torch, and transformers
then fails to import; the tabular model uses neither.)

Usage (from the repository root):

    /work/peers/mostly/bin/python benchmarks/mostly_peer_run.py --parent p.csv --child c.csv \
        --key id --seed 0 --rows N --out-parent p_syn.csv --out-child c_syn.csv \
        [--minutes 3] [--epochs 100]

The engine's two-table recipe (as its SDK builds a "context table"): a flat TabularARGN fitted on
the parent rows (the key as primary key) samples N synthetic parents; a sequential TabularARGN
fitted on the child rows with the training parents as context (``tgt_context_key`` = key,
``ctx_primary_key`` = key) then draws each synthetic parent's sequence, with the synthetic
parents as context. Value protection is the engine's default (on). Each model trains for at most
``--minutes`` minutes or ``--epochs`` epochs (the engine's early stopping on its own validation
split otherwise). Synthetic parents are keyed 1..N; the child's key refers to them.

Both outputs are written atomically (temp file in the output's folder, then os.replace), and ONE
JSON line goes to stdout: {"seconds", "parent_rows", "child_rows"}, seconds being wall-clock fit +
sample. Seeding: ``random_state`` = --seed for both models (the engine seeds torch, numpy and
random from it); generation on CPU is then repeatable.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from peer_io import write_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parent", type=Path, required=True)
    parser.add_argument("--child", type=Path, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--epochs", type=float, default=100.0)
    parser.add_argument("--out-parent", type=Path, required=True)
    parser.add_argument("--out-child", type=Path, required=True)
    args = parser.parse_args()

    from mostlyai.engine import TabularARGN

    parent = pd.read_csv(args.parent)
    child = pd.read_csv(args.child)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        flat = TabularARGN(max_training_time=args.minutes, max_epochs=args.epochs,
                           tgt_primary_key=args.key, device="cpu", random_state=args.seed,
                           workspace_dir=Path(work) / "parent")
        flat.fit(parent)
        fake_parent = flat.sample(n_samples=args.rows)
        fake_parent[args.key] = range(1, len(fake_parent) + 1)
        seq = TabularARGN(max_training_time=args.minutes, max_epochs=args.epochs,
                          tgt_context_key=args.key, ctx_data=parent, ctx_primary_key=args.key,
                          device="cpu", random_state=args.seed,
                          workspace_dir=Path(work) / "child")
        seq.fit(child)
        fake_child = seq.sample(ctx_data=fake_parent)
    seconds = time.perf_counter() - start
    fake_parent = fake_parent[list(parent.columns)]
    fake_child = fake_child[list(child.columns)]
    write_atomic(fake_parent, args.out_parent)
    write_atomic(fake_child, args.out_child)
    print(json.dumps({"seconds": seconds, "parent_rows": len(fake_parent),
                      "child_rows": len(fake_child)}))


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
