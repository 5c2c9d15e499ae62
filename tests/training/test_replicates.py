"""Many networks in one compiled call: replicate i is the same whatever the batch, the padding or
the device count; it matches a plain training run on the same draws; too big a batch fails first."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnreg.core.data import dataset_from_key
from nnreg.core.network import mse
from nnreg.core.replicates import compile_batch, diverged, replicate_keys, run_batch, train_compiled
from nnreg.errors import NnregError
from nnreg.params.schema import DataParams, NetworkParams, Params
from nnreg.runtime.stage import check_memory
from nnreg.trainers.jax import init_model, make_model_train_fn, make_replicate
from tests.shared import small_replicate

DATA = DataParams(n_points=32)
EPOCHS = 60


def _model(name="optax_adam", **kw):
    return Params().jax_model(name).model_copy(update={"layer_sizes": (1, 6, 6, 1), **kw})


def make_replicate_fn(model, data, epochs, seed):
    """The JAX trainer's replicate of a resolved model entry."""
    return make_replicate(model, NetworkParams(), data, epochs, seed)


def test_the_tests_see_two_devices():
    assert len(jax.devices()) == 2  # tests/conftest.py makes two CPU host devices


def test_a_replicate_is_the_same_whatever_the_batch_padding_or_device_count():
    one = make_replicate_fn(_model(), DATA, EPOCHS, seed=7)
    full, timing = run_batch(one, np.arange(5))  # 5 over 2 devices: padded with a sixth, dropped
    assert timing.n_devices == 2 and timing.n_networks == 5 and full.validate_mse.shape == (5,)
    alone, _ = run_batch(one, [3], devices=jax.devices()[:1])
    pair, _ = run_batch(one, [3, 4])
    for field in ("train_mse", "validate_mse", "true_mse"):
        a, b, c = getattr(full, field), getattr(alone, field), getattr(pair, field)
        np.testing.assert_allclose(b[0], a[3], rtol=1e-5)
        np.testing.assert_allclose(c, a[3:5], rtol=1e-5)
    assert len(set(full.validate_mse.tolist())) == 5  # each replicate draws its own init and noise


def test_a_replicate_is_a_plain_training_run_on_its_draws():
    model = _model()
    result, _ = run_batch(make_replicate_fn(model, DATA, EPOCHS, seed=7), [2])
    data_key, init_key = replicate_keys(7, 2)
    dataset = dataset_from_key(data_key, DATA)
    params, history = make_model_train_fn(model, EPOCHS)(init_model(model, init_key), *dataset)
    np.testing.assert_allclose(result.validate_mse[0], float(mse(params, dataset.x_validate, dataset.y_validate)),
                               rtol=1e-5)
    # A replicate's data are the lecture's generator with fresh noise: the same x, other y.
    lecture = dataset_from_key(jax.random.PRNGKey(DATA.seed), DATA)
    np.testing.assert_array_equal(np.asarray(dataset.x_train), np.asarray(lecture.x_train))
    assert not np.array_equal(np.asarray(dataset.y_train), np.asarray(lecture.y_train))


def test_a_swept_learning_rate_equals_the_model_at_that_rate():
    model = _model("gd")
    swept, _ = run_batch(make_replicate_fn(model, DATA, EPOCHS, seed=1), [0, 1, 0, 1], [0.01, 0.01, 0.05, 0.05])
    for k, lr in enumerate([0.01, 0.05]):  # (at 0.2, GD is chaotic: rounding grows to O(1))
        fixed, _ = run_batch(make_replicate_fn(model.model_copy(update={"learning_rate": lr}), DATA, EPOCHS, seed=1),
                             [0, 1])
        np.testing.assert_allclose(swept.validate_mse[2 * k: 2 * k + 2], fixed.validate_mse, rtol=1e-5)


def test_replicate_i_draws_from_fold_in_of_the_seed_key():
    """The documented keys: replicate i's (data key, init key) is split(fold_in(PRNGKey(seed), i)),
    its data the lecture's generator from the first and its network the model's init from the second."""
    for seed, i in ((7, 0), (7, 5), (123, 31)):
        data_key, init_key = replicate_keys(seed, i)
        expected = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), i))
        np.testing.assert_array_equal(np.asarray(data_key), np.asarray(expected[0]))
        np.testing.assert_array_equal(np.asarray(init_key), np.asarray(expected[1]))
    model = _model()
    start = make_replicate_fn(model, DATA, EPOCHS, seed=7).start(jnp.int32(5))
    for a, b in zip(jax.tree.leaves(start[0]), jax.tree.leaves(init_model(model, replicate_keys(7, 5)[1])), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_divergence_is_reported_per_replicate():
    """Replicates 1 and 3 blow up (a rate of 50), 0 and 2 do not: each is marked as itself."""
    result, _ = run_batch(make_replicate_fn(_model("gd"), DATA, EPOCHS, seed=0), [0, 1, 2, 3], [0.01, 50.0, 0.01, 50.0])
    assert diverged(result).tolist() == [False, True, False, True]
    assert (result.first_nonfinite_epoch >= 0).tolist() == [False, True, False, True]
    assert np.isfinite(result.validate_mse[[0, 2]]).all()


def test_a_batch_too_big_for_memory_fails_before_training_saying_how_much_it_needs():
    huge = DataParams(n_points=10**7)
    one = make_replicate_fn(_model(), huge, 1, seed=0)
    with pytest.raises(NnregError, match=r"seeds: 4096 networks need about [0-9.]+ GiB of memory, but [0-9.]+ GiB is free"):
        run_batch(one, np.arange(4096), check=lambda batch: check_memory(batch, "seeds"))


def test_a_batch_compiled_in_a_thread_trains_to_the_bits_of_run_batch_checked_before_it_trains():
    """What the search's confirmation does: compile ahead in a worker thread, then `train_compiled`.
    The check sees the compiled batch before any training; a check that raises trains nothing."""
    from concurrent.futures import ThreadPoolExecutor

    one = make_replicate_fn(_model(), DATA, EPOCHS, seed=5)
    direct, _ = run_batch(one, np.arange(4))
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = pool.submit(compile_batch, one, np.arange(4)).result()
    seen, calls = [], []
    result, timing = train_compiled(batch, lambda done, total, loss: calls.append(done), check=seen.append)
    assert len(seen) == 1 and seen[0] is batch and calls[0] == 0 and calls[-1] == EPOCHS
    assert timing.n_networks == 4 and timing.compile_s == batch.compile_s and timing.runtime_s > 0
    for a, b in zip(result, direct, strict=True):
        np.testing.assert_array_equal(a, b)

    def refuse(batch):
        raise NnregError("too big")
    with pytest.raises(NnregError, match="too big"):
        train_compiled(batch, lambda done, total, loss: calls.append(("trained", done)), check=refuse)
    assert not any(isinstance(c, tuple) for c in calls)


@pytest.mark.parametrize("name,epochs", [("optax_adam", EPOCHS), ("gd", 47)])
def test_a_batch_in_chunks_has_the_bits_of_one_compiled_run(name, epochs):
    """The progress lines cost no bit: chunk by chunk, with progress read between chunks,
    the batch gives what one program for the whole run gives."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    replicate = make_replicate_fn(_model(name), DATA, epochs, seed=3)
    sharding = NamedSharding(Mesh(np.array(jax.devices()), ("replica",)), PartitionSpec("replica"))
    indices = jax.device_put(np.arange(4, dtype=np.int32), sharding)
    whole = jax.jit(jax.vmap(replicate)).lower(indices).compile(
        compiler_options={"xla_backend_optimization_level": 1})(indices)
    batch = compile_batch(replicate, np.arange(4))
    tenths, two = [], []
    runs = [batch.run(), batch.run(lambda done, total, loss: tenths.append((done, loss)), every_s=0.0),
            batch.run(lambda done, total, loss: two.append((done, loss)), every_s=1e9)]
    for result in runs:
        for a, b in zip(result, whole, strict=True):
            np.testing.assert_array_equal(a, np.asarray(b))
    # every_s=0: a chunk every tenth; a fast batch (every_s large): the first tenth, then the rest.
    first = epochs // 10
    assert [done for done, _ in tenths] == [0] + [min(epochs, first * k) for k in range(1, -(-epochs // first) + 1)]
    assert [done for done, _ in two] == [0, first, epochs]
    assert tenths[-1][1] == pytest.approx(float(np.mean(runs[0].train_mse)), rel=1e-6)
    assert tenths[1][1] > tenths[-1][1]  # the loss falls as training goes on


def test_the_host_device_count_changes_a_batch_s_bits_which_is_why_it_is_pinned():
    """The same six replicates split over one device, not two: XLA compiles another program,
    and the Adam-trained networks' last bits move (what a machine with another core count would
    have computed, before the count was pinned)."""
    one = small_replicate()
    two_devices, _ = run_batch(one, np.arange(6))
    one_device, _ = run_batch(one, np.arange(6), devices=jax.devices()[:1])
    assert not np.array_equal(two_devices.validate_mse, one_device.validate_mse)
    np.testing.assert_allclose(two_devices.validate_mse, one_device.validate_mse, rtol=1e-4)
