"""The lecture's code as one script: the baseline of benchmarks/pipeline.py.

What the lecture's notebook does, in its order, with its functions (lecture/reference.py):
generate the data and plot it; build the Keras model, `fit` it with validation data,
evaluate and plot its fit; the hand-coded gradient descent, Optax SGD and Optax Adam,
each jitted, run once to compile and once timed, evaluated and plotted; the summary
table with pandas. The figures go to PNG files in OUT (the notebook shows them) and
the table to stdout. Keras is seeded (the lecture's is not) so that runs compare.

    python benchmarks/lecture_script.py OUT
"""

import sys
import time
from pathlib import Path

start = time.time()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optax  # noqa: E402
import pandas as pd  # noqa: E402

from lecture import reference  # noqa: E402

EPOCHS, LEARNING_RATE, LAYER_SIZES, SEED = 4000, 0.001, (1, 10, 10, 10, 1), 14


def plot_fit(out, name, x_validate, y_validate, prediction):
    fig, ax = plt.subplots()
    ax.scatter(x_validate, y_validate, color="red", alpha=0.5)
    ax.plot(x_validate, prediction, label="fitted model", color="black")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.savefig(out / f"{name}.png")
    plt.close(fig)


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    key_train, key_validate = jax.random.split(jax.random.PRNGKey(SEED))
    x_train, y_train = reference.generate_data(key_train)
    x_validate, y_validate = reference.generate_data(key_validate)
    fig, ax = plt.subplots()
    ax.scatter(x_train, y_train, alpha=0.5)
    ax.scatter(x_validate, y_validate, color="red", alpha=0.5)
    fig.savefig(out / "data.png")
    plt.close(fig)

    # Keras: the lecture's build_keras_model and train_keras_model.
    keras.utils.set_random_seed(1234)
    model = keras.Sequential()
    for _ in range(len(LAYER_SIZES) - 1):
        model.add(keras.layers.Dense(units=10, activation="tanh"))
    model.add(keras.layers.Dense(units=1))
    model.compile(optimizer=keras.optimizers.SGD(), loss="mean_squared_error")
    t = time.time()
    model.fit(x_train, y_train, batch_size=max(x_train.shape), verbose=0, epochs=EPOCHS,
              validation_data=(x_validate, y_validate))
    rows = [("Keras", time.time() - t, model.evaluate(x_train, y_train, verbose=0),
             model.evaluate(x_validate, y_validate, verbose=0))]
    plot_fit(out, "keras", x_validate, y_validate, model.predict(x_validate, verbose=0))

    # JAX: each training function jitted, a warm-up run that compiles, then the timed run.
    for name, short, train in [
        ("Pure JAX (hand-coded GD)", "gd", jax.jit(lambda t, x, y: reference.train_gd(t, x, y, EPOCHS, LEARNING_RATE))),
        ("JAX + Optax SGD", "sgd", jax.jit(lambda t, x, y: reference.train_optax(t, x, y, EPOCHS, optax.sgd(LEARNING_RATE)))),
        ("JAX + Optax ADAM", "adam", jax.jit(lambda t, x, y: reference.train_optax(t, x, y, EPOCHS, optax.adam(LEARNING_RATE)))),
    ]:
        theta = reference.initialize_network(jax.random.PRNGKey(1234), LAYER_SIZES)
        train(theta, x_train, y_train)  # warm-up: compiles
        t = time.time()
        theta = jax.block_until_ready(train(theta, x_train, y_train))
        rows.append((name, time.time() - t, float(reference.loss_fn(theta, x_train, y_train)),
                     float(reference.loss_fn(theta, x_validate, y_validate))))
        plot_fit(out, short, x_validate, y_validate, reference.f(theta, x_validate))

    table = pd.DataFrame(rows, columns=["Method", "Runtime (s)", "Training MSE", "Validation MSE"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    print(f"wall {time.time() - start:.2f} s (from the first line of this script)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
