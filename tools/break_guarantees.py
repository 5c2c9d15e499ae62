"""Breaks each promise of docs/guarantees.md, one at a time, and checks that the test the row
cites then fails: a test that cannot fail proves nothing.

    python tools/break_guarantees.py [--list | --check] [WORDS]    (`make break-guarantees`)

Each break is one small edit (`old` -> `new`) to the function (or module-level name) that keeps
a promise, found by name in its module (`where` is `path::name`, `path::Class.method` or
`path::outer.inner`), or to a committed file (`where` is a path). For each: a fresh clone of
the committed HEAD in a temporary folder, the edit, then the cited test, run there with this
environment's Python. It must fail. Prints a table and exits 1 if any test passed with its
promise broken, or if a break no longer applies (`--check` checks only that, running no test).
WORDS: run only the breaks whose row, function or test contains them.

tests/unit/test_docs.py checks, in every test run, that every row has a break and that each
break's test exists and is cited in its row. Whether each edit still applies is checked here
only (`--check`, and before every run), so a refactoring never has to start by rewriting them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]


class Break(NamedTuple):
    row: str  # the start of the docs/guarantees.md row it breaks
    what: str  # the broken promise, in a few words
    where: str  # "path::name" (a function, method or module-level name, found by name), or a file's path
    old: str  # occurs exactly once in that function's source (or in the file)
    new: str
    test: str  # pytest node id, cited in the row


def _span(tree: ast.Module, qualname: str) -> tuple[int, int] | None:
    """(first line, last line), 1-based, of the definition or assignment `qualname` in `tree`."""
    nodes: list[ast.AST] = list(tree.body)
    found = None
    for part in qualname.split("."):
        found = None
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == part:
                found = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    found = node
        if found is None:
            return None
        nodes = [n for n in ast.walk(found) if n is not found]
    return found.lineno, found.end_lineno


def region(b: Break, root: Path = REPO) -> tuple[Path, int, int] | None:
    """The file of a break and the character span its edit must fall in; None if its function is gone."""
    file, _, name = b.where.partition("::")
    path = root / file
    if not path.is_file():
        return None
    text = path.read_text()
    if not name:
        return path, 0, len(text)
    span = _span(ast.parse(text), name)
    if span is None:
        return None
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: span[0] - 1])
    return path, start, start + sum(len(line) for line in lines[span[0] - 1: span[1]])


def applies(b: Break, root: Path = REPO) -> bool:
    """Whether the break's function (or file) is there and its edit occurs in it exactly once."""
    found = region(b, root)
    if found is None:
        return False
    path, start, end = found
    return path.read_text()[start:end].count(b.old) == 1


def apply(b: Break, root: Path) -> None:
    path, start, end = region(b, root)
    text = path.read_text()
    path.write_text(text[:start] + text[start:end].replace(b.old, b.new) + text[end:])


U, T, S, P = "tests/unit/", "tests/training/", "tests/stages/", "tests/pipeline/"

BREAKS = [
    Break("The lecture's numbers", "Optax's learning rates 1 % higher", "nnreg/core/optimizers.py::_optax.make",
          "getattr(optax, name)(learning_rate,", "getattr(optax, name)(learning_rate * 1.01,",
          T + "test_lecture.py::test_lecture_numbers"),
    Break("The lecture's numbers", "a committed Adam training MSE off in the 7th decimal", "metrics/optax_adam.json",
          '"train_mse": 0.03587920963764191', '"train_mse": 0.0358797',
          U + "test_results.py::test_committed_metrics_are_the_lecture_numbers"),
    Break("The lecture's numbers", "Keras's SGD rate 0.01 % higher", "nnreg/trainers/keras.py::build_model",
          "keras.optimizers.SGD(learning_rate=learning_rate)", "keras.optimizers.SGD(learning_rate=learning_rate * 1.0001)",
          T + "test_lecture.py::test_the_lecture_s_keras_run_gives_the_committed_metrics_exactly"),
    Break("The exercise's four strategies", "the L2 penalty 1 % stronger", "nnreg/core/training.py::make_loss.loss",
          "return error + l2 * l2_penalty(params), aux", "return error + 1.01 * l2 * l2_penalty(params), aux",
          T + "test_lecture.py::test_the_exercise_numbers"),
    Break("Every optimizer name trains", "momentum 0.91 instead of Optax's 0.9", "nnreg/core/optimizers.py::OPTAX",
          '"momentum": ("sgd", {"momentum": 0.9}),', '"momentum": ("sgd", {"momentum": 0.91}),',
          U + "test_optimizers.py::test_optimizers_are_optax_s_with_their_settings"),
    Break("Every optimizer name trains", "no L2 traced as a zero penalty, not the plain MSE",
          "nnreg/core/training.py::make_loss.loss", "        if isinstance(l2, (int, float)) and l2 == 0.0:",
          "        if False:",
          U + "test_optimizers.py::test_l2_penalises_weights_not_biases_as_the_lecture"),
    Break("Every optimizer name trains", "an entry's own rate ignored", "nnreg/trainers/jax.py::optimizer_of",
          "        rate = model.learning_rate", "        rate = 0.05",
          U + "test_optimizers.py::test_a_learning_rate_override_may_be_traced"),
    Break("A strategy is a params entry", "each trainer reads every model's params", "dvc.yaml",
          "        - train\n        - models.${key}\n      outs:\n        - models/${key}.npz",
          "        - train\n        - models\n      outs:\n        - models/${key}.npz",
          P + "test_pipeline.py::test_a_strategy_added_through_params_runs_only_its_stages"),
    Break("A strategy is a params entry", "an entry without `trainer` refused", "nnreg/params/schema.py::trainer_of",
          'return DEFAULT_TRAINER if entry.get("trainer") is None else entry["trainer"]',
          'return entry.get("trainer")', U + "test_params.py::test_a_strategy_is_a_params_entry"),
    Break("Replicate *i* is the same replicate", "a replicate's draws follow its place in the batch",
          "nnreg/core/replicates.py::compile_batch", "index_arg = jax.device_put(np.concatenate([indices,",
          "index_arg = jax.device_put(np.concatenate([np.arange(n, dtype=np.int32),",
          T + "test_replicates.py::test_a_replicate_is_the_same_whatever_the_batch_padding_or_device_count"),
    Break("Replicate *i* is the same replicate", "keys from seed + i, not fold_in", "nnreg/core/replicates.py::replicate_keys",
          "jax.random.fold_in(jax.random.PRNGKey(seed), index)", "jax.random.PRNGKey(seed + index)",
          T + "test_replicates.py::test_replicate_i_draws_from_fold_in_of_the_seed_key"),
    Break("Replicate *i* is the same replicate", "every replicate marked diverged when one is",
          "nnreg/core/training.py::diverged", "bad = np.asarray(first_nonfinite_epoch) >= 0",
          "bad = (np.asarray(first_nonfinite_epoch) >= 0).any()",
          T + "test_replicates.py::test_divergence_is_reported_per_replicate"),
    Break("The replicate statistics are scipy.stats'", "a 90 % interval called 95 %", "nnreg/core/stats.py::CONFIDENCE",
          "CONFIDENCE = 0.95", "CONFIDENCE = 0.90",
          P + "test_pipeline.py::test_statistics_recomputed_from_the_replicates_match_the_metrics"),
    Break("The replicate statistics are scipy.stats'", "a tie counted as a win", "nnreg/core/stats.py::compare_paired",
          "(both & (model < baseline))", "(both & (model <= baseline))",
          U + "test_stats.py::test_a_tie_is_no_win_and_a_pair_where_both_diverged_is_no_win_either"),
    Break("The replicate statistics are scipy.stats'", "both diverged counted as a win", "nnreg/core/stats.py::compare_paired",
          "| (~model_bad & baseline_bad)", "| baseline_bad",
          U + "test_stats.py::test_a_tie_is_no_win_and_a_pair_where_both_diverged_is_no_win_either"),
    Break("The replicate statistics are scipy.stats'", "p = 0.05 called a difference", "nnreg/core/stats.py::verdict",
          "if p_value < ALPHA:", "if p_value <= ALPHA:", U + "test_stats.py::test_the_verdict_needs_p_below_0_05_strictly"),
    Break("A sweep that reaches divergence", "the best rate chosen among diverging rates too",
          "nnreg/core/stats.py::best_learning_rate",
          'healthy = [r for r in rows if r["diverged_fraction"] == 0 and r["validate_mse_mean"] is not None]',
          'healthy = [r for r in rows if r["validate_mse_mean"] is not None]',
          U + "test_stats.py::test_sweep_rows_and_the_best_rate"),
    Break("A sweep that reaches divergence", "a rate where every replicate diverged not marked",
          "nnreg/core/stats.py::sweep_table", '"diverged_fraction": float(diverged[at].mean())',
          '"diverged_fraction": float(diverged[at].mean() < 1)',
          P + "test_pipeline.py::test_a_sweep_that_reaches_divergence_marks_it"),
    Break("Hand GD and Optax SGD end with the same bits", "hand GD's step off by one part in 10^7",
          "nnreg/core/optimizers.py::gradient_descent", "lambda g: -learning_rate * g, grads",
          "lambda g: -learning_rate * g * 1.0000001, grads",
          T + "test_loop.py::test_hand_gd_equals_optax_sgd_bit_for_bit"),
    Break("Keras with the JAX models' initial weights", "Keras's SGD with momentum", "nnreg/trainers/keras.py::build_model",
          "keras.optimizers.SGD(learning_rate=learning_rate)", "keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.1)",
          T + "test_keras.py::test_keras_with_the_jax_initial_weights_follows_gd"),
    Break("Gradients match finite differences", "He-normal's variance 1/in instead of 2/in",
          "nnreg/core/initializers.py::he_normal", "* jnp.sqrt(2 / in_dim)", "* jnp.sqrt(1 / in_dim)",
          U + "test_network.py::test_he_scale"),
    Break("Gradients match finite differences", "the curve sqrt(x) + cos(x)", "nnreg/core/data.py::true_function",
          "return x**0.5 + jnp.sin(x)", "return x**0.5 + jnp.cos(x)", U + "test_data.py::test_formula_and_shapes"),
    Break("Same seed, byte-identical", "today's date in the .npz's zip entries", "nnreg/runtime/files.py::npz_bytes",
          "date_time=(1980, 1, 1, 0, 0, 0)", "date_time=__import__('time').localtime()[:6]",
          U + "test_io.py::test_npz_bytes_are_deterministic_and_readable"),
    Break("Two `dvc repro` runs from scratch", "the clock in the fit CSV", "stages/train.py::main",
          '"prediction": predict(network, dataset.x_validate, trained.activation)})',
          '"prediction": predict(network, dataset.x_validate, trained.activation) + __import__("time").time() % 1e-3})',
          P + "test_faults.py::test_two_runs_from_scratch_give_the_same_bytes"),
    Break("The committed results reproduce", "the CI check skipping the models' md5s",
          "tools/check_reproduced.py::holds_clock_readings", "return any(", 'return path.startswith("models/") or any(',
          S + "test_ci_check.py::test_the_lock_comparison_sees_every_deterministic_change_and_only_those"),
    Break("The same bits on any x86-64 CPU", "the host device count follows the cores",
          "nnreg/runtime/machine.py::PORTABLE_FLAGS", '"--xla_force_host_platform_device_count": "2",',
          '"--xla_force_host_platform_device_count": str(len(os.sched_getaffinity(0))),',
          S + "test_machine.py::test_a_replicate_batch_has_the_same_bits_whatever_the_number_of_cores"),
    Break("The same bits on any x86-64 CPU", "YNNPACK's kernels left to its per-CPU cost model",
          "nnreg/runtime/machine.py::PORTABLE_FLAGS", '    "--xla_cpu_enable_platform_dependent_math": "false",\n', "",
          T + "test_lecture.py::test_the_exercise_numbers"),
    Break("No compiled program picks its arithmetic by the CPU", "reductions handed back to YNNPACK",
          "nnreg/runtime/machine.py::PORTABLE_FLAGS", '    "--xla_cpu_experimental_ynn_fusion_type": "individual_dot",\n',
          "", T + "test_cpu_kernels.py::test_every_program_the_pipeline_compiles_keeps_its_sums_off_cpu_picked_kernels"),
    Break("No compiled program picks its arithmetic by the CPU", "an Eigen product of any length allowed",
          "nnreg/runtime/kernels.py::uses", "if k is not None and k <= EIGEN_ONE_BLOCK", "if True",
          U + "test_kernels.py::test_other_libraries_custom_calls_and_long_eigen_products_are_reported"),
    Break("The same bits on any x86-64 CPU", "a user's flag overridden by the pins", "nnreg/runtime/machine.py::xla_flags",
          "for name, value in pins.items() if name not in given]", "for name, value in pins.items()]",
          U + "test_machine.py::test_the_portable_target_adds_its_four_pins_and_never_overrides_the_user_s"),
    Break("On another machine (simulated", "a committed validation MSE off by 2e-5 relative", "metrics/gd.json",
          '"validate_mse": 0.04211943596601486', '"validate_mse": 0.0421203',
          T + "test_portability.py::test_every_single_run_agrees_within_its_stated_tolerance"),
    Break("Every timing file records the machine", "the trainers' timing files without the machine",
          "stages/train.py::main", ', "machine": machine.record()})', "})",
          S + "test_machine.py::test_a_stage_records_its_machine_and_honours_the_user_s_flags"),
    Break("Every timing file records the machine", "one compilation cache folder for every CPU",
          "nnreg/runtime/machine.py::compilation_cache_dir", '/ "nnreg" / "jax" / machine_id()', '/ "nnreg" / "jax"',
          U + "test_machine.py::test_the_compilation_cache_has_a_folder_per_cpu_kind"),
    Break("A clone is up to date without retraining", "the models back in DVC's cache", "dvc.yaml",
          "        - models/${key}.npz:\n            cache: false\n", "        - models/${key}.npz\n",
          P + "test_pipeline.py::test_a_clone_is_up_to_date_without_retraining"),
    Break("The per-model stages are made from `models:`", "a trainer stage not depending on the trainers", "dvc.yaml",
          "        - nnreg/runtime/stage.py\n        - nnreg/trainers\n      params:\n        - data.x_min",
          "        - nnreg/runtime/stage.py\n      params:\n        - data.x_min",
          S + "test_dvc_yaml.py::test_each_stage_s_imports_lie_within_its_deps_and_every_dep_is_imported"),
    Break("No module imports another in a cycle", "the optimizers importing the loop that imports them",
          "nnreg/core/optimizers.py::make_schedule", "    import optax\n",
          "    import optax\n\n    import nnreg.core.training  # noqa: F401\n",
          U + "test_layout.py::test_no_module_imports_another_in_a_cycle"),
    Break("`dvc plots show` and `dvc plots diff` pages", "the loss plot's y field misnamed", "dvc.yaml",
          "plots/data/losses.csv: loss", "plots/data/losses.csv: losses",
          P + "test_plots_page.py::test_every_plot_draws_offline_in_a_real_browser"),
    Break("One changed learning rate reruns only", "the replicate stages read every model's params", "dvc.yaml",
          "        - stats.seed\n        - models.${key}", "        - stats.seed\n        - models",
          P + "test_pipeline.py::test_one_learning_rate_reruns_only_its_model"),
    Break("Changing the point count really reruns", "the data stage not reading data.n_points", "dvc.yaml",
          "    params:\n      - data\n    outs:", "    params:\n      - data.seed\n      - data.noise\n    outs:",
          P + "test_pipeline.py::test_changing_the_point_count_reruns_the_data_stage"),
    Break("A training stage killed mid-fit", "writes straight into place (no temporary file)",
          "nnreg/runtime/files.py::atomic_write_bytes",
          "fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f\".{path.name}.\", suffix=\".tmp\")",
          "fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), str(path)",
          U + "test_io.py::test_a_write_killed_before_the_rename_leaves_the_old_file"),
    Break("A training stage killed mid-fit", "a stop signal while writing not held", "nnreg/runtime/stage.py::_on_stop_signal",
          "    if not _stop.writing:\n        raise KeyboardInterrupt", "    raise KeyboardInterrupt",
          S + "test_stages.py::test_a_trainer_told_to_stop_while_writing_finishes_every_output_then_stops"),
    Break("A training stage killed mid-fit", "a lost KeyboardInterrupt not checked before writing",
          "nnreg/runtime/stage.py::all_or_none", "    try:\n        ensure_not_interrupted()\n        yield",
          "    try:\n        yield",
          S + "test_stages.py::test_a_trainer_told_to_stop_writes_nothing_even_if_the_interrupt_is_lost"),
    Break("A deleted model or a garbage `.npz`", "a garbage .npz is a traceback", "nnreg/runtime/files.py::_BAD_FILE",
          "_BAD_FILE = (OSError, ValueError, zipfile.BadZipFile, EOFError)", "_BAD_FILE = (OSError,)",
          U + "test_io.py::test_missing_and_corrupt_files_name_the_file"),
    Break("Divergence (e.g. learning rate 10)", "a non-finite loss not noticed", "nnreg/core/training.py::make_epoch.epoch",
          "first_bad = first_bad_epoch(first_bad, index, bad)", "first_bad = first_bad",
          T + "test_loop.py::test_divergence_is_detected_and_parameters_stay_finite"),
    Break("Two `dvc exp run --queue` experiments", "experiments sharing a learning rate through a shared folder",
          "stages/train.py::main", "    trained = trainers.get(entry.trainer)",
          "    import os; shared = os.path.join(os.environ.get('JAX_COMPILATION_CACHE_DIR', '/tmp'), model + '.lr')\n"
          "    open(shared, 'a').write(f'{entry.learning_rate}\\n')\n"
          "    entry = entry.model_copy(update={'learning_rate': float(open(shared).readline())})\n"
          "    trained = trainers.get(entry.trainer)",
          P + "test_faults.py::test_parallel_queued_experiments_each_get_their_own_metrics"),
    Break("Bad params (wrong types", "a date that does not exist is a traceback", "nnreg/params/load.py::load_params",
          "except (ValueError, KeyError, AttributeError, OverflowError) as e:", "except (KeyError,) as e:",
          U + "test_params.py::test_values_yaml_parses_but_cannot_build_fail_in_one_line"),
    Break("Bad params (wrong types", "an error names the parent of the broken key", "nnreg/params/messages.py::one_line",
          '    key = _dotted(error["loc"], raw)\n', '    key = _dotted(error["loc"][:-1], raw) or "params"\n',
          S + "test_params_fuzz.py::test_mutated_params_load_or_fail_naming_the_key"),
    Break("A failed write (disk full", "a failed write is a traceback", "nnreg/runtime/files.py::atomic_write_bytes",
          "        if isinstance(e, OSError):\n            raise DataFileError", "        if False:\n            raise DataFileError",
          U + "test_io.py::test_a_failed_write_leaves_no_trace_and_names_the_file"),
    Break("A failed write (disk full", "a metrics file's MSE may be a string", "nnreg/runtime/schemas.py::MetricsFile",
          "    train_mse: Optional[float]\n", "    train_mse: Optional[float | str]\n",
          U + "test_io.py::test_the_pipeline_s_json_files_are_read_against_their_schema"),
    Break("A failed write (disk full", "a bug reading a file called a bad file", "nnreg/runtime/files.py::_reading",
          "    except _BAD_FILE as e:", "    except Exception as e:",
          U + "test_io.py::test_only_what_a_bad_file_raises_becomes_a_file_error"),
    Break("A `dvc.yaml` pointing at a missing file", "an x of shape (n, 2) accepted", "nnreg/runtime/files.py::read_dataset",
          "if a.ndim != 2 or a.shape[1] != 1 or a.shape[0] < 2:", "if a.ndim != 2 or a.shape[0] < 2:",
          U + "test_io.py::test_wrong_shapes_are_refused"),
    Break("The README's result tables are rows", "a README result off by one digit", "README.md",
          "| 1 | JAX + Optax ADAM | 251 | 0.042464 |", "| 1 | JAX + Optax ADAM | 251 | 0.042465 |",
          U + "test_results.py::test_the_readme_s_result_tables_are_the_committed_summary_s"),
    Break("JAX's compilation cache changes no bit", "the cache never used", "nnreg/runtime/machine.py::use_compilation_cache",
          "    jax.config.update(\"jax_compilation_cache_dir\", str(path))\n", "",
          S + "test_stages.py::test_the_compilation_cache_is_used_and_changes_no_bit"),
    Break("JAX's compilation cache changes no bit", "a JAX stage that sets up nothing", "stages/seeds.py",
          "import _machine  # noqa", "import _env  # noqa",
          S + "test_stages.py::test_every_jax_stage_sets_up_its_machine_and_cache_before_jax_starts"),
    Break("The lock pins every installed package", "a package's pin not the installed version", "requirements.lock",
          "\npyyaml==", "\npyyaml==0.0.1\nunused-name==",
          S + "test_setup.py::test_every_installed_package_is_pinned_at_its_installed_version"),
    Break("The params are pydantic models", "a stale schema (epochs without its bound)", "params.schema.json",
          '"default": 4000,\n          "exclusiveMinimum": 0,\n', '"default": 4000,\n',
          U + "test_params.py::test_the_committed_schema_is_generated_from_the_params_models"),
    Break("Keras's `loop: scan` is `fit`'s run", "the scan goes on updating after a NaN",
          "nnreg/trainers/keras.py::train_scan", "state = hold(stopped, state, new)", "state = new",
          T + "test_keras.py::test_the_scan_loop_is_fit_bit_for_bit"),
    Break("Keras's `loop: scan` is `fit`'s run", "the trainer ignores `loop`", "nnreg/trainers/keras.py::train",
          "progress=progress, loop=entry.loop)", "progress=progress)",
          P + "test_pipeline.py::test_the_keras_scan_loop_gives_fit_s_results_through_dvc"),
    Break("Long stages print progress", "a line every fifth of the run", "nnreg/runtime/progress.py::Progress.__call__",
          "done - self.last_done < self.total / 10", "done - self.last_done < self.total / 5",
          S + "test_stages.py::test_progress_lines_come_every_tenth_of_the_run_or_five_seconds_and_at_the_end"),
    Break("`make exp` prints the experiments", "the docs' flowchart missing an edge", "docs/pipeline.md",
          "    seeds@model --> report\n", "", S + "test_dvc_yaml.py::test_the_docs_flowchart_is_dvc_s_dag"),
    Break("Outside the project's environment", "a stage without its environment check", "stages/_env.py",
          "if missing:\n", "if False:\n",
          P + "test_pipeline.py::test_dvc_repro_outside_the_environment_says_to_activate_it"),
    Break("The summary shows the lecture's published numbers", "the lecture's columns beside any model",
          "nnreg/report/lecture.py::lecture_differences",
          '    if model not in lecture["models"]:\n        return [f"models.{model}"]\n    return [',
          '    return []\n    return [',
          U + "test_report.py::test_lecture_differences_name_the_params_that_make_the_lecture_s_numbers_incomparable"),
    Break("Keras's replicates are Keras's own training", "every replicate trains on replicate 0's data",
          "nnreg/trainers/keras.py::make_replicate.advance", "x, y, _, _ = replicate_dataset(seed, index, data)",
          "x, y, _, _ = replicate_dataset(seed, 0, data)",
          T + "test_keras.py::test_a_keras_replicate_is_keras_s_fit_on_its_draws"),
    Break("The training loop's shared forward pass", "a late non-finite validation loss keeps the bad update",
          "nnreg/core/training.py::_train_shared_x", "kept = hold(went_bad, previous, current)", "kept = current",
          T + "test_loop.py::test_the_shared_forward_pass_judges_divergence_as_the_separate_pass"),
    Break("The training loop's shared forward pass", "a non-finite training loss not noticed by the shared pass",
          "nnreg/core/training.py::_train_shared_x",
          "first_bad = first_bad_epoch(first_bad, index, ~jnp.isfinite(train_loss))", "first_bad = first_bad",
          T + "test_loop.py::test_the_shared_forward_pass_with_a_non_finite_training_loss"),
    Break("The search: the same params", "a batch written to the journal operation by operation",
          "nnreg/search/journal.py::BatchJournal.append_logs", "self._pending.extend(logs)",
          "self._pending.extend(logs)\n        self.commit()",
          S + "test_search.py::test_the_search_is_deterministic_resumes_after_sigkill_and_starts_afresh_for_other_params"),
    Break("The search: the same params", "a journal of other params resumed", "nnreg/search/study.py::open_study",
          'old.user_attrs.get("fingerprint") == fingerprint_', "True",
          S + "test_search.py::test_the_search_is_deterministic_resumes_after_sigkill_and_starts_afresh_for_other_params"),
    Break("The search: the same params", "the sampler seeded by the clock", "nnreg/search/study.py::make_sampler",
          "int(np.random.SeedSequence([params.search.seed, batch]).generate_state(1)[0])",
          "int(__import__('time').time_ns() % 2**31)",
          S + "test_search.py::test_the_search_is_deterministic_resumes_after_sigkill_and_starts_afresh_for_other_params"),
    Break("The search: the same params", "the confirmation corrected for one comparison, not top",
          "nnreg/search/confirm.py::_confirmed", "base[\"diverged\"], n_comparisons=top)", "base[\"diverged\"], n_comparisons=1)",
          S + "test_search.py::test_every_trial_keeps_the_bound_and_the_confirmation_recomputes"),
    Break("The search over workers", "a killed worker's trial stopped but not proposed again",
          "nnreg/search/leases.py::fail_expired",
          'study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)', "pass",
          S + "test_workers.py::test_three_workers_share_a_journal_file_on_one_host"),
    Break("The search over workers", "a storage call not retried while the database is away",
          "nnreg/search/storage.py::retry", "if not _retryable(error):", "if True:",
          S + "test_workers.py::test_three_workers_share_a_postgresql_study_through_a_kill_and_a_restart"),
    Break("The search over workers", "the URL shown with its password", "nnreg/search/storage.py::Url.shown",
          "return self.scrub(self.url)", "return self.url",
          S + "test_workers.py::test_three_workers_share_a_postgresql_study_through_a_kill_and_a_restart"),
    Break("The search over workers", "a worker joins a study of other params", "nnreg/search/shared.py::join",
          "    if differ:", "    if False:",
          S + "test_workers.py::test_three_workers_share_a_postgresql_study_through_a_kill_and_a_restart"),
    Break("The search over workers", "a call's results handed to its trials in the wrong places",
          "nnreg/search/study.py::SearchPrograms.train", "results[i] = ReplicateResult(*(a[k * n:k * n + n_seeds] for a in result))",
          "results[i] = ReplicateResult(*(a[:n_seeds] for a in result))",
          U + "test_search.py::test_trials_sharing_a_call_train_as_each_alone"),
    Break("The search's programs", "the padding's updates not masked", "nnreg/search/programs.py::masked.update",
          "return jax.tree.map(lambda u, m: u * m, updates, where), state", "return updates, state",
          U + "test_search.py::test_a_padded_network_trains_as_the_network_itself"),
    Break("The search's programs", "a padded layer scaled by its padded fan", "nnreg/core/initializers.py::init_within",
          "W = W * jnp.sqrt(_fan(name, in_pad, out_pad) / _fan(name, in_dim, out_dim))", "W = W * 1.0",
          U + "test_search.py::test_a_layer_drawn_within_padding_is_the_initializer_s_draw_or_its_distribution"),
    Break("The search's programs", "the first activation's gradient whatever the trial's", "nnreg/search/programs.py::make_network_fn.chosen",
          "return lambda *args: jax.lax.switch(activation_index, options, *args)", "return options[0]",
          U + "test_search.py::test_a_trial_trains_what_its_models_entry_trains"),
    Break("The search's programs", "a rung started again from the initial weights", "nnreg/search/programs.py::make_network_fn.run",
          "lambda new, old: jnp.where(begin == 0, new, old)", "lambda new, old: new",
          U + "test_search.py::test_a_rung_goes_on_from_the_last_one_s_state_with_the_bits_of_one_run"),
    Break("The search's programs", "a trial's carry handed to another trial", "nnreg/search/study.py::SearchPrograms.train",
          "else jax.tree.map(lambda a, k=k: a[k * n:(k + 1) * n], carry)", "else jax.tree.map(lambda a: a[:n], carry)",
          U + "test_search.py::test_a_rung_goes_on_from_the_last_one_s_state_with_the_bits_of_one_run"),
]


def run_break(b: Break) -> tuple[str, float, str]:
    """(result, seconds, the failing test's last line) of one break in a fresh clone."""
    with tempfile.TemporaryDirectory(prefix="nnreg-break-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        if not applies(b, clone):
            return "BREAK DOES NOT APPLY", 0.0, ""
        apply(b, clone)
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
    chosen = [b for b in BREAKS if all(w in b.row or w in b.where or w in b.test for w in words)]
    if "--list" in argv:
        for b in chosen:
            print(f"{b.row} | {b.what} | {b.where} | {b.test}")
        return 0
    if "--check" in argv:
        stale = [b for b in chosen if not applies(b)]
        for b in stale:
            print(f"no longer applies: {b.where}: {b.what}")
        print(f"{len(chosen) - len(stale)} of {len(chosen)} breaks apply")
        return 1 if stale else 0
    print("| Guarantee (row starts) | Break | Test | Result | s |\n| --- | --- | --- | --- | ---: |", flush=True)
    bad = 0
    for b in chosen:
        result, seconds, detail = run_break(b)
        bad += not result.startswith("fails")
        print(f"| {b.row} | {b.what} (`{b.where}`) | `{b.test.split('/')[-1]}` | {result} | {seconds:.0f} |", flush=True)
        if not result.startswith("fails"):
            print(f"    {detail}", file=sys.stderr, flush=True)
    print(f"{len(chosen) - bad} of {len(chosen)} breaks caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
