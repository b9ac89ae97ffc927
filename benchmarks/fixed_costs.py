"""Fixed costs of one fit that do not shrink with the table: imports, PyTorch's optimiser set-up.

Each figure is the median wall time of ``--repeats`` fresh Python processes (nothing cached in
the process; the OS file cache is warm after the first). A process running nothing gives the
interpreter's own start-up, subtracted from the others. The breast-cancer row of
``benchmarks/results/scale.md`` compares the hybrid's whole fit + sample (imports included)
with SDV GaussianCopula's on the same 398 rows: these are the parts of the hybrid's time that
no change to its own code can remove.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/fixed_costs.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: name -> code run in a fresh interpreter
STEPS = {
    "interpreter start-up": "pass",
    "import numpy, pandas, scikit-learn, scipy": (
        "import numpy, pandas, scipy.stats, sklearn.neighbors, sklearn.mixture"),
    "import clinisynth (the package, as `clinisynth` loads it)": "import clinisynth",
    "import torch": "import torch",
    "import torch + first torch.optim.Adam (imports torch._dynamo)": (
        "import torch; torch.optim.Adam([torch.zeros(1, requires_grad=True)])"),
    "import sdv (SDV's GaussianCopula, the peer)": (
        "from sdv.single_table import GaussianCopulaSynthesizer"),
}


def wall(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for code in STEPS.values():  # warm the file cache
        wall(code)
    medians = {name: statistics.median(wall(code) for _ in range(args.repeats))
               for name, code in STEPS.items()}
    base = medians["interpreter start-up"]
    print(f"# PYTHONPATH=src .venv/bin/python benchmarks/fixed_costs.py --repeats {args.repeats}"
          f"   (median of {args.repeats} fresh processes; 1-min load average "
          f"{os.getloadavg()[0]:.1f} at the end; {os.cpu_count()} cores)")
    for name, seconds in medians.items():
        extra = ("" if name == "interpreter start-up"
                 else f"  ({seconds - base:.2f} s above start-up)")
        print(f"{seconds:6.2f} s  {name}{extra}")
    adam = (medians["import torch + first torch.optim.Adam (imports torch._dynamo)"]
            - medians["import torch"])
    print(f"PyTorch alone costs {medians['import torch'] - base:.2f} s to import and "
          f"{adam:.2f} s more at its first optimiser (torch.optim's methods are wrapped in "
          "torch._disable_dynamo, which imports torch._dynamo on first use)")


if __name__ == "__main__":
    main()
