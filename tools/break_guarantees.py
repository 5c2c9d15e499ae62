"""Breaks the central promises of docs/guarantees.md, one at a time, and checks that the test
the row cites then fails: a test that cannot fail proves nothing.

    python tools/break_guarantees.py [--list | --check] [WORDS]    (`make break-guarantees`)

The central promises, each broken once: the lecture's numbers, hand GD and Optax SGD's equal
bits, replicate keys and draws, the paired statistics' win rule, divergence caught, the pins
that give every CPU the same bits, atomic writes, a strategy's own stages, the CI check, a
deterministic search and no trial lost by the workers. The other rows' tests are guarded by
their own assertions against reference numbers; a break per row froze the code's text.

Each break is one small edit (`old` -> `new`) to the function (or module-level name) that keeps
a promise, found by name in its module (`where` is `path::name`, `path::Class.method` or
`path::outer.inner`), or to a committed file (`where` is a path). For each: a fresh clone of
the committed HEAD in a temporary folder, the edit, then the cited test, run there with this
environment's Python. It must fail. Prints a table and exits 1 if any test passed with its
promise broken, or if a break no longer applies (`--check` checks only that, running no test).
WORDS: run only the breaks whose row, function or test contains them.

tests/unit/test_docs.py checks, in every test run, that each break's row exists and cites its
test. Whether each edit still applies is checked here only (`--check`, and before every run).
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
    Break("A strategy is a params entry", "each trainer reads every model's params", "dvc.yaml",
          "        - train\n        - models.${key}\n      outs:\n        - models/${key}.npz",
          "        - train\n        - models\n      outs:\n        - models/${key}.npz",
          P + "test_pipeline.py::test_a_strategy_added_through_params_runs_only_its_stages"),
    Break("Replicate *i* is the same replicate", "a replicate's draws follow its place in the batch",
          "nnreg/core/replicates.py::compile_batch", "index_arg = jax.device_put(np.concatenate([indices,",
          "index_arg = jax.device_put(np.concatenate([np.arange(n, dtype=np.int32),",
          T + "test_replicates.py::test_a_replicate_is_the_same_whatever_the_batch_padding_or_device_count"),
    Break("Replicate *i* is the same replicate", "keys from seed + i, not fold_in", "nnreg/core/replicates.py::replicate_keys",
          "jax.random.fold_in(jax.random.PRNGKey(seed), index)", "jax.random.PRNGKey(seed + index)",
          T + "test_replicates.py::test_replicate_i_draws_from_fold_in_of_the_seed_key"),
    Break("The replicate statistics are scipy.stats'", "a tie counted as a whole win", "nnreg/core/stats.py::compare_paired",
          "score = float(wins.sum() + 0.5 * ties.sum())", "score = float(wins.sum() + ties.sum())",
          U + "test_stats.py::test_a_tie_counts_half_and_a_pair_where_both_diverged_is_a_tie"),
    Break("The replicate statistics are scipy.stats'", "Bonferroni instead of Holm", "nnreg/core/stats.py::holm",
          "np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])", "p.size * p[order]",
          U + "test_stats.py::test_a_family_of_comparisons_is_scipy_s_tests_corrected_by_holm"),
    Break("Hand GD and Optax SGD end with the same bits", "hand GD's step off by one part in 10^7",
          "nnreg/core/optimizers.py::gradient_descent", "lambda g: -learning_rate * g, grads",
          "lambda g: -learning_rate * g * 1.0000001, grads",
          T + "test_loop.py::test_hand_gd_equals_optax_sgd_bit_for_bit"),
    Break("The committed results reproduce", "the CI check skipping the models' md5s",
          "tools/check_reproduced.py::holds_clock_readings", "return any(", 'return path.startswith("models/") or any(',
          S + "test_ci_check.py::test_the_lock_comparison_sees_every_deterministic_change_and_only_those"),
    Break("The same bits on any x86-64 CPU", "YNNPACK's kernels left to its per-CPU cost model",
          "nnreg/runtime/machine.py::PORTABLE_FLAGS", '    "--xla_cpu_enable_platform_dependent_math": "false",\n', "",
          T + "test_lecture.py::test_the_exercise_numbers"),
    Break("No compiled program picks its arithmetic by the CPU", "reductions handed back to YNNPACK",
          "nnreg/runtime/machine.py::PORTABLE_FLAGS", '    "--xla_cpu_experimental_ynn_fusion_type": "individual_dot",\n',
          "", T + "test_cpu_kernels.py::test_every_program_the_pipeline_compiles_keeps_its_sums_off_cpu_picked_kernels"),
    Break("A training stage killed mid-fit", "writes straight into place (no temporary file)",
          "nnreg/runtime/files.py::atomic_write_bytes",
          "fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f\".{path.name}.\", suffix=\".tmp\")",
          "fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), str(path)",
          U + "test_io.py::test_a_write_killed_before_the_rename_leaves_the_old_file"),
    Break("Divergence (e.g. learning rate 10)", "a non-finite loss not noticed", "nnreg/core/training.py::make_epoch.epoch",
          "first_bad = first_bad_epoch(first_bad, index, bad)", "first_bad = first_bad",
          T + "test_loop.py::test_divergence_is_detected_and_parameters_stay_finite"),
    Break("The search: the same params", "the sampler seeded by the clock", "nnreg/search/study.py::make_sampler",
          "int(np.random.SeedSequence([params.search.seed, batch]).generate_state(1)[0])",
          "int(__import__('time').time_ns() % 2**31)",
          S + "test_search.py::test_the_search_is_deterministic_resumes_after_sigkill_and_starts_afresh_for_other_params"),
    Break("The search over workers", "a killed worker's trial stopped but not proposed again",
          "nnreg/search/leases.py::fail_expired",
          'study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)', "pass",
          S + "test_workers.py::test_three_workers_share_a_journal_file_on_one_host"),
    Break("The search over workers", "a storage call not retried while the database is away",
          "nnreg/search/storage.py::retry", "if not _retryable(error):", "if True:",
          S + "test_workers.py::test_three_workers_share_a_postgresql_study_through_a_kill_and_a_restart"),
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
