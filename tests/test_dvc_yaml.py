"""dvc.yaml is honest: each stage depends on exactly the nnreg modules its script imports,
and the per-model stages are made from params.yaml's `models:` mapping."""

import json
import subprocess
import sys
from pathlib import Path

from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from nnreg.config import load_params
from tests.conftest import REPO

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, str(__import__("pathlib").Path(sys.argv[1]).parent))
spec = importlib.util.spec_from_file_location("stage", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()
                        if (n == "nnreg" or n.startswith("nnreg.")) and getattr(m, "__file__", None))))
"""


def _stages():
    """(name, cmd, file deps, params) of every stage, as DVC itself resolves dvc.yaml (foreach included)."""
    for stage in Repo(str(REPO)).index.stages:
        deps = [d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)]
        params = [p for d in stage.deps if isinstance(d, ParamsDependency) for p in d.params]
        yield stage.addressing, stage.cmd, deps, params


def test_every_model_has_its_stages_made_from_params():
    p = load_params(REPO / "params.yaml")
    names = {name for name, *_ in _stages()}
    per_model = {f"{s}@{m}" for s in ("train", "seeds") for m in p.models}
    assert names == {"data", "compare", "report"} | per_model | {f"sweep@{m}" for m in p.sweep.models}
    commands = {name: cmd for name, cmd, *_ in _stages()}
    for m, spec in p.models.items():
        assert commands[f"train@{m}"] == f"python stages/train_{spec.trainer}.py {m}"


def test_stage_deps_are_exactly_the_modules_the_script_imports():
    imports = {}
    for name, cmd, deps, _ in _stages():
        script = cmd.split()[1]
        assert script in deps, (name, script)
        if script not in imports:
            out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / script)], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout
            imports[script] = {str(Path(f).resolve().relative_to(REPO)) for f in json.loads(out)}
        listed = {d for d in deps if d.startswith("nnreg/")}
        imported = imports[script]
        assert imported == listed, f"{name}: imports {sorted(imported - listed)} unlisted, lists {sorted(listed - imported)} unused"


def test_per_model_stages_read_only_their_own_model_params():
    for name, _, _, params in _stages():
        if "@" in name:
            model = name.split("@")[1]
            assert [p for p in params if p.startswith("models")] == [f"models.{model}"], name


def test_dvc_makes_no_network_calls_of_its_own():
    """Analytics and the update check are off in the repo's config (the pipeline itself is offline)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / ".dvc/config")
    assert config["core"]["analytics"] == "false" and config["core"]["check_update"] == "false"


def _edges(lines, node_names=None):
    """Edges of a mermaid flowchart, `stage@item` written as `stage@model`."""
    import re

    def name(node):
        node = (node_names or {}).get(node, node)
        return re.sub(r"@.*", "@model", node)

    edges = set()
    for line in lines:
        chain = [part.strip() for part in line.strip().split("-->")]
        edges |= {(name(a), name(b)) for a, b in zip(chain, chain[1:])}
    return edges


def test_the_readme_s_flowchart_is_dvc_s_dag():
    """Every edge of `dvc dag --mermaid`, with one node per stage family, and no other."""
    import re

    out = subprocess.run([sys.executable, "-m", "dvc", "dag", "--mermaid"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    names = dict(re.findall(r'^\s*(node\d+)\["([^"]+)"\]', out, flags=re.M))
    dag = _edges([line for line in out.splitlines() if "-->" in line], names)
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## The pipeline\n\n```mermaid\nflowchart TD\n(.*?)```", readme, flags=re.S).group(1)
    assert _edges([line for line in block.splitlines() if "-->" in line]) == dag


def test_params_yaml_is_written_as_dvc_writes_it_back():
    """`dvc exp run -S` rewrites params.yaml with ruamel: the committed file is already in that
    style, so an applied experiment's diff is only the values it set."""
    import difflib
    import tempfile

    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.yaml"
        original = (REPO / "params.yaml").read_text()
        path.write_text(original)
        apply_overrides(str(path), ["train.epochs=4000"])  # the same value: nothing may move
        assert path.read_text() == original
        apply_overrides(str(path), ["models.gd.learning_rate=0.02"])
        changed = [line for line in difflib.unified_diff(original.splitlines(), path.read_text().splitlines(),
                                                         lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        assert changed == ["-    learning_rate: 0.001", "+    learning_rate: 0.02"], changed
