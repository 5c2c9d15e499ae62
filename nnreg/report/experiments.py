"""A readable `dvc exp show`: one row per commit or experiment, the params that differ between
them, and each model's validation MSE (its single run, and the mean over the replicates).

`dvc exp show` alone prints every param, every metric and the md5 of every dependency (about
60 columns here); `table` keeps what a person compares. Its input is `dvc exp show --json`.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pandas as pd

PARAMS_FILE = "params.yaml"


def _flat(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and leaf values of a params mapping (lists are leaves)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _flat(v, f"{prefix}{k}.")
    else:
        yield prefix.rstrip("."), node


def _yaml(value: Any) -> str:
    """A value as YAML writes it: [1, 10, 1], true, null."""
    return json.dumps(value, separators=(", ", ": ")).replace('"', "") if not isinstance(value, str) else value


def _states(exps: list[dict]) -> Iterator[tuple[str, dict, str]]:
    """(name, state, queue state) for the workspace, each commit, then its experiments under it."""
    for commit in exps:
        name = "workspace" if commit["rev"] == "workspace" else commit.get("name") or commit["rev"][:7]
        yield name, commit, ""
        for exp in commit.get("experiments") or []:
            state = exp["revs"][0]
            executor = exp.get("executor") or {}
            yield f"  {exp.get('name') or state.get('name') or state['rev'][:7]}", state, executor.get("state") or ""


SINGLE, REPLICATES = "single run", "replicate mean"


def table(exps: list[dict]) -> pd.DataFrame:
    """Two rows an experiment (the single run's validation MSE, the mean over the replicates)
    against the params that differ between experiments and one column a model."""
    params, rows, models = {}, [], []
    for name, state, status in _states(exps):
        data = state.get("data") or {}
        raw = ((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data") or {}
        flat = dict(_flat(raw))
        params[name] = flat
        metrics = {path: (m or {}).get("data") or {} for path, m in (data.get("metrics") or {}).items()}
        names = list(raw.get("models") or {})
        models += [m for m in names if m not in models]
        head = {"Created": (data.get("timestamp") or "")[:16].replace("T", " "), "State": status}
        single = {m: metrics.get(f"metrics/{m}.json", {}).get("validate_mse") for m in names}
        seeds = {m: metrics.get(f"metrics/seeds/{m}.json", {}).get("validate_mse") for m in names}
        rows.append(((name, SINGLE), {**head, **single}))
        means = {m: s.get("mean") if isinstance(s, dict) else None for m, s in seeds.items()}
        rows.append(((name, REPLICATES), {"Created": "", "State": status, **means}))
    keys = list(dict.fromkeys(k for flat in params.values() for k in flat))
    changed = [k for k in keys if len({_yaml(flat.get(k)) for flat in params.values()}) > 1]
    out = pd.DataFrame([{**row, **{k: _yaml(params[index[0]].get(k)) for k in changed}} for index, row in rows],
                       index=pd.MultiIndex.from_tuples([index for index, _ in rows],
                                                       names=["Experiment", "validation MSE"]))
    columns = ["Created"] + (["State"] if out["State"].any() else []) + changed
    columns += [m for m in models if m in out.columns and out[m].notna().any()]
    return out[columns]


def render(frame: pd.DataFrame, width: int = 120) -> str:
    """The table as text, six decimals, wrapped in blocks to `width` columns."""
    return frame.to_string(float_format=lambda v: f"{v:.6f}", na_rep="-", line_width=width, justify="right")
