"""What every trainer offers, and what it returns.

A trainer is a module of `nnreg.trainers` with two functions (the `Trainer` protocol);
`nnreg.trainers.get(name)` returns it. The stages call only these two, so they never branch
on the trainer, and a new trainer needs no change to them (docs/contributing.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol

if TYPE_CHECKING:
    from nnreg.core.data import Dataset
    from nnreg.core.network import Network
    from nnreg.core.replicates import Replicate
    from nnreg.core.training import History
    from nnreg.params.schema import DataParams, NetworkParams

# progress(epochs done, training loss, text to add): a trainer that runs epoch by epoch in Python
# reports each (the stage decides what to print); one compiled loop reports nothing while it runs.
Progress = Callable[[int, float, str], None]


class TrainTiming(NamedTuple):
    """How one network's training went, in time: the timing file's fields."""

    compile_s: float  # tracing, lowering and XLA compilation (Keras's fit: its warm-up epoch less an epoch)
    runtime_s: float  # wall time of one compiled training run
    device: str  # e.g. "cpu" or "NVIDIA H200"
    platform: str  # "cpu" or "gpu"
    epochs: int  # the epochs runtime_s covers: all of them, or fewer where Keras's fit stopped at a NaN
    loop: str = "scan"  # the loop that ran: one compiled lax.scan, or Keras's "fit"


class Trained(NamedTuple):
    """A trained network and how it got there."""

    network: Network  # (W, b) layers, numpy or JAX arrays
    history: History  # per-epoch losses; validate_loss recorded every epoch
    timing: TrainTiming
    activation: str  # the network's activation, for its evaluation


class Trainer(Protocol):
    """The interface of a trainer module. `entry` is the model's params.yaml entry (the
    trainer's own class in `nnreg.params.schema`); `network` the params' `network:` section,
    whose values an entry may override."""

    def train(self, entry: Any, network: NetworkParams, epochs: int, dataset: Dataset,
              progress: Progress | None = None) -> Trained:
        """The model's single run: its initial network from `network.init_seed`, trained full-batch
        on `dataset` for `epochs`, validated every epoch."""

    def make_replicate(self, entry: Any, network: NetworkParams, data: DataParams, epochs: int,
                       seed: int) -> Replicate:
        """Replicate `i` of the model for `nnreg.core.replicates`' batches: its data and initial
        network from the keys of `fold_in(PRNGKey(seed), i)`, trained for `epochs`, then evaluated;
        a learning rate passed to the replicate overrides the entry's (a sweep)."""
