"""Checks that a rerun pipeline reproduced the committed results: every deterministic output.

    python tools/check_reproduced.py [REV]      (after `dvc repro -f`; REV defaults to HEAD)

Compared with what REV committed:
1. dvc.lock, stage by stage: the same stages, commands and params, and the same md5 for
   every dependency and output (the data set and the trained models too, which git
   holds as well). Only timing-bearing entries are skipped: metrics/timing/,
   the `metrics` folder the report reads (it holds them), the summary and its images.
2. Every file git tracks under data/, models/, metrics/ and plots/, byte for byte. The timing-bearing ones
   are compared without their clock readings: metrics/timing/*.json without their
   `*_s`/`*_ms` fields, plots/summary.json without `runtime_s`/`compile_s`,
   plots/summary.md without its Runtime and Compile columns, models/search.journal (Optuna's
   journal of the search) without each operation's worker id and times: the same operations,
   trials, parameters and values. plots/images/summary.png, a picture of those runtimes, is
   the one file skipped. metrics/timing/search.json is a record of the run alone (a finished
   study is resumed, not searched again): nothing in it is compared.
3. No file under those folders that REV does not have.

Prints what it compared; exit 1 listing every difference.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

RESULTS = ("data", "models", "metrics", "plots")  # the folders the pipeline writes, all in git
SKIPPED_FILES = ("plots/images/summary.png",)  # draws the runtimes: no part of it is comparable


# The files that hold clock readings (runtimes): every timing file, the summary, the search's journal.
CLOCK_FILES = ("metrics/timing/", "plots/summary.json", "plots/summary.md", "plots/images/summary.png",
               "models/search.journal")


def holds_clock_readings(path: str) -> bool:
    """Whether `path` (a file, or a folder that dvc.lock hashes as one) holds clock readings."""
    path = path.rstrip("/")
    return any(f == path or f.startswith(path + "/") or path.startswith(f) for f in CLOCK_FILES)


def clock_free(path: str, text: str) -> str:
    """`text` of a file that holds clock readings, without them and without the machine record of
    a timing file (another CPU model, the same bits); other files: unchanged."""
    if path == "metrics/timing/search.json":  # what this run of the search cost (resumed: nothing)
        return ""
    if path.startswith("metrics/timing/"):
        data = json.loads(text)
        return json.dumps({k: v for k, v in data.items() if not re.search(r"_(s|ms)$", k) and k != "machine"},
                          sort_keys=True)
    if path == "plots/summary.json":
        data = json.loads(text)
        for row in data.get("single_run", []):
            row.pop("runtime_s", None)
            row.pop("compile_s", None)
        return json.dumps(data, sort_keys=True)
    if path == "plots/summary.md":
        return "\n".join(_without_timing_columns(text.splitlines()))
    if path == "models/search.journal":  # each operation, without the writer's random id and the clock
        ops = [json.loads(line) for line in text.splitlines() if line.strip()]
        return "\n".join(json.dumps({k: v for k, v in op.items() if k != "worker_id" and not k.startswith("datetime")},
                                    sort_keys=True) for op in ops)
    return text


def _without_timing_columns(lines: list[str]) -> list[str]:
    """Markdown tables with their "Runtime ..." and "Compile ..." columns blanked."""
    out, timing = [], set()
    for line in lines:
        if not line.startswith("|"):
            timing = set()
            out.append(line)
            continue
        cells = line.split("|")
        if not timing and not set(line) <= set("|-: "):
            timing = {i for i, c in enumerate(cells) if c.strip().startswith(("Runtime", "Compile"))} or {-1}
        out.append("|".join("" if i in timing else c for i, c in enumerate(cells)))
    return out


def lock_differences(old: dict, new: dict) -> list[str]:
    """How lock `new` differs from `old` outside the timing-bearing entries."""
    found = []
    old_stages, new_stages = old.get("stages", {}), new.get("stages", {})
    for name in sorted(set(old_stages) ^ set(new_stages)):
        found.append(f"dvc.lock: stage {name} is in only one of the locks")
    for name in sorted(set(old_stages) & set(new_stages)):
        a, b = old_stages[name], new_stages[name]
        for key in ("cmd", "params"):
            if a.get(key) != b.get(key):
                found.append(f"dvc.lock: {name}: {key} differs")
        for kind in ("deps", "outs"):
            x = {e["path"]: e.get("md5") for e in a.get(kind, [])}
            y = {e["path"]: e.get("md5") for e in b.get(kind, [])}
            for path in sorted(set(x) | set(y)):
                if holds_clock_readings(path):
                    continue
                if x.get(path) != y.get(path):
                    found.append(f"dvc.lock: {name}: {kind[:-1]} {path}: md5 {x.get(path)} -> {y.get(path)}")
    return found


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def main(argv: list[str]) -> int:
    rev = argv[1] if len(argv) > 1 else "HEAD"
    found = lock_differences(yaml.safe_load(_git("show", f"{rev}:dvc.lock")), yaml.safe_load(open("dvc.lock")))
    n_lock = sum(len(s.get(k, [])) for s in yaml.safe_load(open("dvc.lock"))["stages"].values() for k in ("deps", "outs"))

    committed = _git("ls-tree", "-r", "--name-only", rev, "--", *RESULTS).split()
    exact = masked = 0
    for path in committed:
        if path in SKIPPED_FILES:
            continue
        try:
            now = open(path, "rb").read()
        except FileNotFoundError:
            found.append(f"{path}: missing after the rerun")
            continue
        before = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, check=True).stdout
        if now == before:
            exact += 1
        elif holds_clock_readings(path) and clock_free(path, before.decode()) == clock_free(path, now.decode()):
            masked += 1
        else:
            found.append(f"{path}: differs from {rev} (git diff {rev} -- {path})")
    extra = [p for p in _git("ls-files", "--others", "--exclude-standard", "--", *RESULTS).split()]
    found += [f"{p}: new, not in {rev}" for p in extra]

    print(f"compared with {rev}: {n_lock} dvc.lock entries (md5s; timing-bearing ones skipped), "
          f"{exact} files identical, {masked} identical but for their clock readings, "
          f"{len(SKIPPED_FILES)} skipped ({', '.join(SKIPPED_FILES)})")
    for line in found:
        print(f"DIFFERS: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
