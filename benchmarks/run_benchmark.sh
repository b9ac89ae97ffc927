#!/usr/bin/env bash
# The project's headline benchmark: writes benchmarks/results/ (results.csv, summary.md, plots,
# scenarios.csv and the per-cell synthetic tables under cells/).
#
#   bash benchmarks/run_benchmark.sh                 # the full grid (hours on 2 cores)
#   bash benchmarks/run_benchmark.sh --engine dask   # extra options are passed to the command
#
# Re-running resumes: finished cells are kept. To re-run one synthesizer only (e.g. after the
# hybrid changed), delete its cells and run again:
#   rm -r benchmarks/results/cells/*/hybrid && bash benchmarks/run_benchmark.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=../shared/datasets
BIN=${BIN:-.venv/bin}

"$BIN/clinisynth" benchmark \
    --dataset breast_cancer \
    --data "$SHARED/pima_diabetes.csv" --target type \
    --data "$SHARED/cardiac_cabg_ptca.csv" --target procedure \
    --data "$SHARED/liver_pbc.csv" --target status \
    --synthesizers hybrid,gaussian_copula,ctgan,tvae,copulagan,smote \
    --seeds 3 --scenarios \
    --out benchmarks/results "$@"
