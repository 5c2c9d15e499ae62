"""A search worker: joins the study the search stage made in `search.storage`, trains batches
of its trials on this machine's devices until the study has `search.n_trials`, then stops.
Run it on any machine with the project checked out at the stage's commit and installed
(`make install`), the storage's URL in the same environment variable or git-ignored file:

    python -m nnreg.search.worker [--params params.yaml] [--wait-s 600]     (in the project's folder)
    make worker

It refuses, in one line, a study made by another commit, params, lock or code
(`nnreg.search.shared.join`), and stops with one line when the storage stays away longer than
`search.storage.retry_s` (run it again to resume)."""

import argparse
from pathlib import Path

from nnreg.errors import NnregError
from nnreg.params.load import load_params
from nnreg.runtime import machine
from nnreg.runtime.progress import log
from nnreg.runtime.stage import run_stage
from nnreg.search.journal import provenance
from nnreg.search.shared import join, take_part
from nnreg.search.storage import open_storage, read_url


def main(argv: list[str]) -> None:
    machine.setup()  # before JAX starts, as every stage
    ap = argparse.ArgumentParser(prog="python -m nnreg.search.worker", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--wait-s", type=float, default=600.0, help="how long to wait for the stage to make the study")
    a = ap.parse_args(argv[1:])
    params = load_params(a.params)
    root = Path.cwd()  # the checkout: its commit and lock are what the study must have been made with
    space = params.search
    if space.storage is None:
        raise NnregError("search.storage is null: the search runs in the search stage alone (dvc repro); set "
                         "search.storage (url_env or url_file) to spread it over workers")
    url = read_url(space.storage, root)
    storage = open_storage(url, space.storage.retry_s, log)
    study = join(params, storage, provenance(params, root), url.shown, a.wait_s, log)
    log(f"worker: joined study in {url.shown}")
    take_part(params, study, storage, log, "worker")


if __name__ == "__main__":
    run_stage(main)
