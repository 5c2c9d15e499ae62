"""The search over workers (`nnreg.search.shared`): what sharing a study costs, side by side in
one run. For each storage (a throw-away PostgreSQL server on localhost, as the tests start one,
and a journal file), the same search with 1 worker and with `--workers` workers
(`python -m nnreg.search.worker` processes, sharing this machine's cores): the search's wall
time, trials a second, and per batch the worker's time in storage calls (asks, tells, leases,
the sampler's reads of the study) against its training time.

Each worker compiles its programs before it works (JAX's compilation cache, warmed by a first
worker run, makes that a few seconds); the wall time counted is from the first worker's first
ask to the last one's last tell.

    python benchmarks/workers.py [--n-trials 96] [--batch 16] [--workers 3]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nnreg.runtime import machine  # noqa: E402

machine.setup()

import yaml  # noqa: E402

from nnreg.params.export import to_dict  # noqa: E402
from nnreg.params.load import load_params, parse_params  # noqa: E402
from nnreg.search.storage import open_storage, parse_url  # noqa: E402
from nnreg.search.journal import provenance  # noqa: E402
from nnreg.search.shared import create  # noqa: E402

DONE = re.compile(r"worker: done: (\d+) batches, (\d+) trials told.*training ([\d.]+) s, storage ([\d.]+) s in "
                  r"(\d+) calls, ([\d.]+) s in all")


def search(url: str, params_file: Path, params, n_workers: int) -> dict:
    """A fresh study in `url` worked by `n_workers` worker processes: their summed figures."""
    storage = open_storage(parse_url(url), 60.0)
    create(params, storage, provenance(params, REPO))
    env = {**os.environ, "NNREG_SEARCH_STORAGE": url}
    procs = [subprocess.Popen([sys.executable, "-m", "nnreg.search.worker", "--params", str(params_file)], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(n_workers)]
    outs = [p.communicate()[0] for p in procs]
    rows = []
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out
        rows.append([float(x) for x in DONE.search(out).groups()])
    batches, told, train, store, calls, wall = (sum(r[i] for r in rows) for i in range(6))
    return {"wall": max(r[5] for r in rows), "told": told, "batches": batches, "train": train, "storage": store,
            "calls": calls}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-trials", type=int, default=96)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    from tests.postgres import Server, bin_dir

    raw = to_dict(load_params(REPO / "params.yaml"))
    raw["search"].update(n_trials=a.n_trials, batch=a.batch,
                         storage={"url_env": "NNREG_SEARCH_STORAGE", "lease_s": 60.0, "retry_s": 120.0})
    params = parse_params(raw)
    folder = REPO / "build" / "bench-workers"
    folder.mkdir(parents=True, exist_ok=True)
    params_file = folder / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    server = Server() if bin_dir() is not None else None
    results: dict[tuple[str, int], list[dict]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            storages = {"journal file": lambda i: f"journal:{tmp}/study-{i}.journal"}
            if server is not None:
                storages["PostgreSQL"] = lambda i: server.create_database(f"bench_{i}")
            k = 0
            search(storages["journal file"]("warm"), params_file, params, 1)  # fills the compilation cache
            for _ in range(a.repeats):
                for name, make in storages.items():
                    for n in (1, a.workers):
                        k += 1
                        results.setdefault((name, n), []).append(search(make(k), params_file, params, n))
    finally:
        if server is not None:
            server.remove()

    print(f"\n{a.n_trials} trials of the default space, {a.batch} a batch, on {os.cpu_count()} cores "
          f"({machine.cpu_info()['model']}, {time.strftime('%Y-%m-%d')}); medians of {a.repeats}\n")
    print("| Storage | Workers | Wall (s) | Trials/s | Batches | Training a batch (s) | Storage a batch (s) "
          "| Storage calls a batch | Storage / training |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (name, n), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"| {name} | {n} | {med['wall']:.1f} | {a.n_trials / med['wall']:.2f} | {med['batches']:.0f} | "
              f"{med['train'] / med['batches']:.2f} | {med['storage'] / med['batches']:.3f} | "
              f"{med['calls'] / med['batches']:.0f} | {med['storage'] / med['train']:.3f} |")


if __name__ == "__main__":
    main()
