"""Stage data: the lecture's seeded training and validation sets -> data/dataset.npz."""

import _machine  # noqa: F401  (first: the environment checked, the CPU target pinned, before JAX starts)

from nnreg.core.data import make_dataset
from nnreg.params.load import load_params
from nnreg.runtime.files import write_dataset
from nnreg.runtime.paths import DATASET, PARAMS
from nnreg.runtime.progress import log
from nnreg.runtime.stage import run_stage


def main(argv):
    p = load_params(PARAMS).data
    dataset = make_dataset(p)
    write_dataset(DATASET, dataset)
    log(f"data: {p.n_points} training and {p.n_points} validation points (seed {p.seed}) -> {DATASET}")


if __name__ == "__main__":
    run_stage(main)
