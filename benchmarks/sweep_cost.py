"""What one learning-rate configuration costs: DVC's queue (one experiment a rate) against the
sweep stage (every rate in one compiled call), with the real DVC, side by side.

In a temporary git + DVC copy of the project with the default params (`--epochs` may
shorten training), after one `dvc repro` whose results are committed:
1. queues `--rates` experiments `-S models.gd.learning_rate=choice(...)` and runs them
   with `dvc queue start -j 1`: wall time until the queue is done, per rate;
2. `dvc exp run -S sweep.models=[gd] -S sweep.learning_rates=[the same rates]`: wall time
   of the whole experiment (the sweep, compare and report stages), per rate.

    python benchmarks/sweep_cost.py [--rates 0.003 0.02 0.05] [--epochs 4000]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnreg.runtime import machine  # noqa: E402
from tests import helpers  # noqa: E402
from tests.helpers import dvc, make_repo, run, wait_for_queue  # noqa: E402

helpers.USE_COMPILE_CACHE = False  # time what a user's run costs

REPO = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", nargs="+", default=["0.003", "0.02", "0.05"])
    ap.add_argument("--epochs", type=int, default=4000)
    a = ap.parse_args()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["epochs"] = a.epochs
    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(Path(tmp), params)
        start = time.perf_counter()
        dvc(root, "repro")
        baseline_s = time.perf_counter() - start
        run(root, "git", "add", "-A")  # experiments start from the committed results, as a user's do
        run(root, "git", "commit", "-qm", "results")
        dvc(root, "exp", "run", "--queue", "-S", f"models.gd.learning_rate=choice({','.join(a.rates)})")
        start = time.perf_counter()
        dvc(root, "queue", "start", "-j", "1")
        status = wait_for_queue(root, len(a.rates), timeout=3600)
        queue_s = time.perf_counter() - start
        assert status.count("Success") == len(a.rates), status
        dvc(root, "queue", "stop")
        start = time.perf_counter()
        dvc(root, "exp", "run", "-S", "sweep.models=[gd]", "-S", f"sweep.learning_rates=[{','.join(a.rates)}]")
        sweep_s = time.perf_counter() - start
    n = len(a.rates)
    print(f"{machine.cpu_info()['model']}, {time.strftime('%Y-%m-%d')}: default params, {a.epochs} epochs; the first dvc repro took {baseline_s:.0f} s\n")
    print("| way | configurations | wall (s) | per configuration (s) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| `dvc exp run --queue` + `dvc queue start -j 1` | {n} | {queue_s:.1f} | {queue_s / n:.1f} |")
    print(f"| `sweep@gd` ({params['sweep']['n_seeds']} replicates a rate), with compare and report | {n} | "
          f"{sweep_s:.1f} | {sweep_s / n:.1f} |")


if __name__ == "__main__":
    main()
