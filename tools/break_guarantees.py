"""Breaks each promise of the README's Guarantees table, one at a time, and checks that the test
the row cites then fails: a test that cannot fail proves nothing.

    python tools/break_guarantees.py [--list] [WORDS]      (`make break-guarantees`; 20-30 min on 2 cores)

For each break below: a fresh clone of the committed HEAD in a temporary folder, one edit
(`old` -> `new` in `file`, a code change that breaks the promise), then the cited test,
run there with this environment's Python. It must fail. Prints a table and exits 1 if
any test passed with its promise broken (or a break no longer applies).
WORDS: run only the breaks whose row or test contains them.

tests/test_readme.py checks, in every test run, that every row of the table has a break
here, that each break's edit still applies to the code, and that its test is cited in
its row.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]


class Break(NamedTuple):
    row: str  # the start of the Guarantees row it breaks
    what: str  # the broken promise, in a few words
    file: str
    old: str  # occurs exactly once in `file`
    new: str
    test: str  # pytest node id, cited in the row


BREAKS = [
    Break("The lecture's numbers", "Optax's learning rates 1 % higher", "nnreg/jax_training.py",
          "return Optimizer(*getattr(optax, name)(rate, **{**fixed, **model.settings}))",
          "return Optimizer(*getattr(optax, name)(rate * 1.01, **{**fixed, **model.settings}))",
          "tests/test_training.py::test_lecture_numbers"),
    Break("The lecture's numbers", "a committed Adam training MSE off in the 7th decimal", "metrics/optax_adam.json",
          '"train_mse": 0.03587920963764191', '"train_mse": 0.0358797',
          "tests/test_results.py::test_committed_metrics_are_the_lecture_numbers"),
    Break("The lecture's numbers", "Keras's SGD rate 0.01 % higher", "nnreg/keras_training.py",
          "keras.optimizers.SGD(learning_rate=learning_rate)", "keras.optimizers.SGD(learning_rate=learning_rate * 1.0001)",
          "tests/test_keras.py::test_the_lecture_s_keras_run_gives_the_committed_metrics_exactly"),
    Break("The exercise's four strategies", "the L2 penalty 1 % stronger", "nnreg/training.py",
          "return error + l2 * l2_penalty(params), aux", "return error + 1.01 * l2 * l2_penalty(params), aux",
          "tests/test_jax_training.py::test_the_exercise_numbers"),
    Break("Every optimizer name trains", "momentum 0.91 instead of Optax's 0.9", "nnreg/jax_training.py",
          '"momentum": ("sgd", {"momentum": 0.9}),', '"momentum": ("sgd", {"momentum": 0.91}),',
          "tests/test_jax_training.py::test_optimizers_are_optax_s_with_their_settings"),
    Break("A strategy is a params entry", "each trainer reads every model's params", "dvc.yaml",
          "        - train\n        - models.${key}\n      outs:\n        - models/${key}.npz",
          "        - train\n        - models\n      outs:\n        - models/${key}.npz",
          "tests/test_pipeline.py::test_a_strategy_added_through_params_runs_only_its_stages"),
    Break("Replicate *i* is the same replicate", "a replicate's draws follow its place in the batch", "nnreg/replicates.py",
          "index_arg = jax.device_put(np.concatenate([indices,",
          "index_arg = jax.device_put(np.concatenate([np.arange(n, dtype=np.int32),",
          "tests/test_replicates.py::test_a_replicate_is_the_same_whatever_the_batch_padding_or_device_count"),
    Break("The replicate statistics are scipy.stats'", "a 90 % interval called 95 %", "nnreg/stats.py",
          "CONFIDENCE = 0.95", "CONFIDENCE = 0.90",
          "tests/test_pipeline.py::test_statistics_recomputed_from_the_replicates_match_the_metrics"),
    Break("A sweep that reaches divergence", "the best rate chosen among diverging rates too", "nnreg/stats.py",
          'healthy = [r for r in rows if r["diverged_fraction"] == 0 and r["validate_mse_mean"] is not None]',
          'healthy = [r for r in rows if r["validate_mse_mean"] is not None]',
          "tests/test_stats.py::test_sweep_rows_and_the_best_rate"),
    Break("A sweep that reaches divergence", "a rate where every replicate diverged not marked", "nnreg/stats.py",
          '"diverged_fraction": float(diverged[at].mean())', '"diverged_fraction": float(diverged[at].mean() < 1)',
          "tests/test_pipeline.py::test_a_sweep_that_reaches_divergence_marks_it"),
    Break("Hand GD and Optax SGD end with the same bits", "hand GD's step off by one part in 10^7",
          "nnreg/jax_training.py", "lambda g: -learning_rate * g, grads", "lambda g: -learning_rate * g * 1.0000001, grads",
          "tests/test_training.py::test_hand_gd_equals_optax_sgd_bit_for_bit"),
    Break("Keras with the JAX models' initial weights", "Keras's SGD with momentum", "nnreg/keras_training.py",
          "keras.optimizers.SGD(learning_rate=learning_rate)", "keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.1)",
          "tests/test_keras.py::test_keras_with_the_jax_initial_weights_follows_gd"),
    Break("Gradients match finite differences", "He-normal's variance 1/in instead of 2/in", "nnreg/network.py",
          "* jnp.sqrt(2 / in_dim)", "* jnp.sqrt(1 / in_dim)", "tests/test_network.py::test_he_scale"),
    Break("Gradients match finite differences", "the curve sqrt(x) + cos(x)", "nnreg/data.py",
          "return x**0.5 + jnp.sin(x)", "return x**0.5 + jnp.cos(x)", "tests/test_data.py::test_formula_and_shapes"),
    Break("Same seed, byte-identical", "today's date in the .npz's zip entries", "nnreg/io.py",
          "date_time=(1980, 1, 1, 0, 0, 0)", "date_time=__import__('time').localtime()[:6]",
          "tests/test_io.py::test_npz_bytes_are_deterministic_and_readable"),
    Break("Two `dvc repro` runs from scratch", "the clock in the fit CSV", "nnreg/outputs.py",
          '"prediction": predict(network, dataset.x_validate, activation)})',
          '"prediction": predict(network, dataset.x_validate, activation) + __import__("time").time() % 1e-3})',
          "tests/test_faults.py::test_two_runs_from_scratch_give_the_same_bytes"),
    Break("The committed results reproduce", "the CI check skipping the models' md5s", "tools/check_reproduced.py",
          'return (path == "metrics" or', 'return (path.startswith("models/") or path == "metrics" or',
          "tests/test_ci_check.py::test_the_lock_comparison_sees_every_deterministic_change_and_only_those"),
    Break("The same bits on any x86-64 CPU", "the host device count follows the cores", "nnreg/machine.py",
          '    "--xla_force_host_platform_device_count": "2",\n',
          '    "--xla_force_host_platform_device_count": str(len(os.sched_getaffinity(0))),\n',
          "tests/test_machine.py::test_a_replicate_batch_has_the_same_bits_whatever_the_number_of_cores"),
    Break("The same bits on any x86-64 CPU", "YNNPACK's kernels left to its per-CPU cost model", "nnreg/machine.py",
          '    "--xla_cpu_enable_platform_dependent_math": "false",\n', "",
          "tests/test_jax_training.py::test_the_exercise_numbers"),
    Break("The same bits on any x86-64 CPU", "a user's flag overridden by the pins", "nnreg/machine.py",
          "for name, value in pins.items() if name not in given]", "for name, value in pins.items()]",
          "tests/test_machine.py::test_the_portable_target_adds_its_three_pins_and_never_overrides_the_user_s"),
    Break("On another machine (simulated", "a committed validation MSE off by 2e-5 relative", "metrics/gd.json",
          '"validate_mse": 0.04211943596601486', '"validate_mse": 0.0421203',
          "tests/test_portability.py::test_every_single_run_agrees_within_its_stated_tolerance"),
    Break("Every timing file records the machine", "the trainers' timing files without the machine",
          "nnreg/outputs.py", ', "machine": machine.record()})', "})",
          "tests/test_machine.py::test_a_stage_records_its_machine_and_honours_the_user_s_flags"),
    Break("Every timing file records the machine", "one compilation cache folder for every CPU", "nnreg/cli.py",
          '/ "nnreg" / "jax" / machine_id()', '/ "nnreg" / "jax"',
          "tests/test_machine.py::test_the_compilation_cache_has_a_folder_per_cpu_kind"),
    Break("A clone is up to date without retraining", "the models back in DVC's cache", "dvc.yaml",
          "        - models/${key}.npz:\n            cache: false\n", "        - models/${key}.npz\n",
          "tests/test_pipeline.py::test_a_clone_is_up_to_date_without_retraining"),
    Break("The per-model stages are made from `models:`", "a trainer not depending on the module that writes "
          "its outputs", "dvc.yaml", "        - nnreg/outputs.py\n", "",
          "tests/test_dvc_yaml.py::test_stage_deps_are_exactly_the_modules_the_script_imports"),
    Break("`dvc plots show` and `dvc plots diff` pages", "the loss plot's y field misnamed", "dvc.yaml",
          "plots/data/losses.csv: loss", "plots/data/losses.csv: losses",
          "tests/test_plots_page.py::test_every_plot_draws_offline_in_a_real_browser"),
    Break("One changed learning rate reruns only", "the replicate stages read every model's params", "dvc.yaml",
          "        - stats.seed\n        - models.${key}", "        - stats.seed\n        - models",
          "tests/test_pipeline.py::test_one_learning_rate_reruns_only_its_model"),
    Break("Changing the point count really reruns", "the data stage not reading data.n_points", "dvc.yaml",
          "    params:\n      - data\n    outs:", "    params:\n      - data.seed\n      - data.noise\n    outs:",
          "tests/test_pipeline.py::test_changing_the_point_count_reruns_the_data_stage"),
    Break("A training stage killed mid-fit", "writes straight into place (no temporary file)", "nnreg/io.py",
          "fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f\".{path.name}.\", suffix=\".tmp\")",
          "fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), str(path)",
          "tests/test_io.py::test_a_write_killed_before_the_rename_leaves_the_old_file"),
    Break("A training stage killed mid-fit", "a stop signal while writing not held", "nnreg/cli.py",
          "    if not _writing:\n        raise KeyboardInterrupt", "    raise KeyboardInterrupt",
          "tests/test_stages.py::test_a_trainer_told_to_stop_while_writing_finishes_every_output_then_stops"),
    Break("A training stage killed mid-fit", "a lost KeyboardInterrupt not checked before writing", "nnreg/cli.py",
          "    try:\n        ensure_not_interrupted()\n        yield", "    try:\n        yield",
          "tests/test_stages.py::test_a_trainer_told_to_stop_writes_nothing_even_if_the_interrupt_is_lost"),
    Break("A deleted model or a garbage `.npz`", "a garbage .npz is a traceback", "nnreg/io.py",
          "_BAD_FILE = (OSError, ValueError, zipfile.BadZipFile, EOFError)", "_BAD_FILE = (OSError,)",
          "tests/test_io.py::test_missing_and_corrupt_files_name_the_file"),
    Break("Divergence (e.g. learning rate 10)", "a non-finite training loss not noticed", "nnreg/training.py",
          "first_bad = jnp.where(~already_bad & bad, index, first_bad)", "first_bad = first_bad",
          "tests/test_training.py::test_divergence_is_detected_and_parameters_stay_finite"),
    Break("Two `dvc exp run --queue` experiments", "experiments sharing a learning rate through a shared folder",
          "stages/train_jax.py", "    initial = init_model(spec, jax.random.PRNGKey(params.network.init_seed))",
          "    import os; shared = os.path.join(os.environ.get('JAX_COMPILATION_CACHE_DIR', '/tmp'), model + '.lr')\n"
          "    open(shared, 'a').write(f'{spec.learning_rate}\\n')\n"
          "    spec = spec.model_copy(update={'learning_rate': float(open(shared).readline())})\n"
          "    initial = init_model(spec, jax.random.PRNGKey(params.network.init_seed))",
          "tests/test_faults.py::test_parallel_queued_experiments_each_get_their_own_metrics"),
    Break("Bad params (wrong types", "a date that does not exist is a traceback", "nnreg/config.py",
          "except (ValueError, KeyError, AttributeError, OverflowError) as e:", "except (KeyError,) as e:",
          "tests/test_config.py::test_values_yaml_parses_but_cannot_build_fail_in_one_line"),
    Break("Bad params (wrong types", "an error names the parent of the broken key", "nnreg/config.py",
          '    key = _dotted(error["loc"], raw)\n', '    key = _dotted(error["loc"][:-1], raw) or "params"\n',
          "tests/test_params_fuzz.py::test_mutated_params_load_or_fail_naming_the_key"),
    Break("A failed write (disk full", "a failed write is a traceback", "nnreg/io.py",
          "        if isinstance(e, OSError):\n            raise DataFileError", "        if False:\n            raise DataFileError",
          "tests/test_io.py::test_a_failed_write_leaves_no_trace_and_names_the_file"),
    Break("A failed write (disk full", "a metrics file's MSE may be a string", "nnreg/files.py",
          "    train_mse: Optional[float]\n", "    train_mse: Optional[float | str]\n",
          "tests/test_io.py::test_the_pipeline_s_json_files_are_read_against_their_schema"),
    Break("A failed write (disk full", "a bug reading a file called a bad file", "nnreg/io.py",
          "    except _BAD_FILE as e:", "    except Exception as e:",
          "tests/test_io.py::test_only_what_a_bad_file_raises_becomes_a_file_error"),
    Break("A `dvc.yaml` pointing at a missing file", "an x of shape (n, 2) accepted", "nnreg/io.py",
          "if a.ndim != 2 or a.shape[1] != 1 or a.shape[0] < 2:", "if a.ndim != 2 or a.shape[0] < 2:",
          "tests/test_io.py::test_wrong_shapes_are_refused"),
    Break("The README's result tables are rows", "a README result off by one digit", "README.md",
          "| JAX + Optax ADAM | 251 | ", "| JAX + Optax ADAM | 252 | ",
          "tests/test_results.py::test_the_readme_s_result_tables_are_the_committed_summary_s"),
    Break("JAX's compilation cache changes no bit", "the cache never used", "nnreg/cli.py",
          "        jax.config.update(\"jax_compilation_cache_dir\", str(path))\n", "",
          "tests/test_stages.py::test_the_compilation_cache_is_used_and_changes_no_bit"),
    Break("JAX's compilation cache changes no bit", "the cache left off where nnreg.cli comes before JAX",
          "nnreg/cli.py", "        sys.meta_path.insert(0, _AfterImport(\"jax\", configure))\n", "        pass\n",
          "tests/test_stages.py::test_stages_import_jax_only_to_compute_and_then_use_the_cache"),
    Break("The lock pins every installed package", "a package's pin not the installed version", "requirements.lock",
          "\npyyaml==", "\npyyaml==0.0.1\nunused-name==",
          "tests/test_setup.py::test_every_installed_package_is_pinned_at_its_installed_version"),
    Break("The params are pydantic models", "a stale schema (epochs without its bound)", "params.schema.json",
          '"default": 4000,\n          "exclusiveMinimum": 0,\n', '"default": 4000,\n',
          "tests/test_config.py::test_the_committed_schema_is_generated_from_the_params_models"),
    Break("Keras's `loop: scan` is `fit`'s run", "the scan goes on updating after a NaN", "nnreg/keras_training.py",
          "state = jax.tree.map(lambda old, now: jnp.where(stopped, old, now), state, tuple(new))",
          "state = tuple(new)", "tests/test_keras.py::test_the_scan_loop_is_fit_bit_for_bit"),
    Break("Keras's `loop: scan` is `fit`'s run", "the stage ignores `loop`", "stages/train_keras.py",
          "progress=Progress(model, epochs), loop=k.loop)", "progress=Progress(model, epochs))",
          "tests/test_pipeline.py::test_the_keras_scan_loop_gives_fit_s_results_through_dvc"),
    Break("Long stages print progress", "a line every fifth of the run", "nnreg/cli.py",
          "done - self.last_done < self.total / 10", "done - self.last_done < self.total / 5",
          "tests/test_stages.py::test_progress_lines_come_every_tenth_of_the_run_or_five_seconds_and_at_the_end"),
    Break("`make exp` prints the experiments", "the README's flowchart missing an edge", "README.md",
          "    seeds@model --> report\n", "",
          "tests/test_dvc_yaml.py::test_the_readme_s_flowchart_is_dvc_s_dag"),
    Break("Outside the project's environment", "a stage without its environment check", "stages/_env.py",
          "if missing:\n", "if False:\n",
          "tests/test_pipeline.py::test_dvc_repro_outside_the_environment_says_to_activate_it"),
    Break("The summary shows the lecture's published numbers", "the lecture's columns beside any model",
          "nnreg/config.py", '    if model not in lecture["models"]:\n        return [f"models.{model}"]\n    return [',
          '    return []\n    return [',
          "tests/test_config.py::test_lecture_differences_name_the_params_that_make_the_lecture_s_numbers_incomparable"),
    Break("Keras's replicates are Keras's own training", "every replicate trains on replicate 0's data",
          "nnreg/keras_replicates.py", "        x, y, _, _ = replicate_dataset(seed, index, data)\n",
          "        x, y, _, _ = replicate_dataset(seed, 0, data)\n",
          "tests/test_keras.py::test_a_keras_replicate_is_keras_s_fit_on_its_draws"),
    Break("The training loop's shared forward pass", "a late non-finite validation loss keeps the bad update",
          "nnreg/training.py",
          "kept = jax.tree.map(lambda old, now: jnp.where(went_bad, old, now), previous, current)",
          "kept = current",
          "tests/test_training.py::test_the_shared_forward_pass_judges_divergence_as_the_separate_pass"),
    Break("The training loop's shared forward pass", "a non-finite training loss not noticed by the shared pass",
          "nnreg/training.py",
          "first_bad = jnp.where(~already_bad & ~jnp.isfinite(train_loss), index, first_bad)",
          "first_bad = first_bad",
          "tests/test_training.py::test_the_shared_forward_pass_with_a_non_finite_training_loss"),
]


def applies(b: Break, root: Path = REPO) -> bool:
    return (root / b.file).read_text().count(b.old) == 1


def run_break(b: Break) -> tuple[str, float, str]:
    """(result, seconds, the failing test's last line) of one break in a fresh clone."""
    with tempfile.TemporaryDirectory(prefix="nnreg-break-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        if not applies(b, clone):
            return "BREAK DOES NOT APPLY", 0.0, ""
        path = clone / b.file
        path.write_text(path.read_text().replace(b.old, b.new))
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", b.test],
                              cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        shutil.rmtree(clone, ignore_errors=True)
    tail = [line for line in proc.stdout.splitlines() if line.startswith(("E ", "FAILED", "ERROR"))]
    if proc.returncode == 1:
        return "fails, as it must", seconds, (tail[0] if tail else "")[:100]
    return ("STILL PASSES" if proc.returncode == 0 else f"pytest exit {proc.returncode}"), seconds, proc.stdout[-300:]


def main(argv: list[str]) -> int:
    words = [a for a in argv[1:] if not a.startswith("--")]
    chosen = [b for b in BREAKS if all(w in b.row or w in b.test for w in words)]
    if "--list" in argv:
        for b in chosen:
            print(f"{b.row} | {b.what} | {b.test}")
        return 0
    print("| Guarantee (row starts) | Break | Test | Result | s |\n| --- | --- | --- | --- | ---: |", flush=True)
    bad = 0
    for b in chosen:
        result, seconds, detail = run_break(b)
        bad += not result.startswith("fails")
        print(f"| {b.row} | {b.what} (`{b.file}`) | `{b.test.split('/')[-1]}` | {result} | {seconds:.0f} |", flush=True)
        if not result.startswith("fails"):
            print(f"    {detail}", file=sys.stderr, flush=True)
    print(f"{len(chosen) - bad} of {len(chosen)} breaks caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
