"""dvc.yaml is honest: each stage depends on the nnreg modules that can change what it writes
(every module its script imports, its trainer's too, but the text-only ones), and on no module
it does not import; the per-model stages are made from params.yaml's `models:` mapping."""

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from nnreg.params.load import load_params
from tests.conftest import REPO

# Modules a stage may import without depending on them: they only make text, so editing them
# changes no output (a message or a progress line reruns nothing). Package __init__ files that
# hold only a docstring are exempt the same way.
TEXT_ONLY = {"nnreg/params/messages.py", "nnreg/runtime/progress.py"}

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, str(__import__("pathlib").Path(sys.argv[1]).parent))
spec = importlib.util.spec_from_file_location("stage", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
from nnreg import trainers
for name in sys.argv[2:]:  # the trainer the stage picks at run time, by the entry's name
    trainers.get(name)
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()
                        if (n == "nnreg" or n.startswith("nnreg.")) and getattr(m, "__file__", None))))
"""


def _stages():
    """(name, cmd, file deps, params) of every stage, as DVC itself resolves dvc.yaml (foreach included)."""
    for stage in Repo(str(REPO)).index.stages:
        deps = [d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)]
        params = [p for d in stage.deps if isinstance(d, ParamsDependency) for p in d.params]
        yield stage.addressing, stage.cmd, deps, params


def _docstring_only(path: str) -> bool:
    body = ast.parse((REPO / path).read_text()).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


def test_every_model_has_its_stages_made_from_params():
    p = load_params(REPO / "params.yaml")
    names = {name for name, *_ in _stages()}
    per_model = {f"{s}@{m}" for s in ("train", "seeds") for m in p.models}
    assert names == {"data", "compare", "search", "report"} | per_model | {f"sweep@{m}" for m in p.sweep.models}
    commands = {name: cmd for name, cmd, *_ in _stages()}
    for m in p.models:
        assert commands[f"train@{m}"] == f"python stages/train.py {m}"
        assert commands[f"seeds@{m}"] == f"python stages/seeds.py {m}"


def test_each_stage_s_imports_lie_within_its_deps_and_every_dep_is_imported():
    """Loading a stage's script (and, for a per-model stage, its model's trainer) imports only
    modules its deps cover (a file, or a folder holding it), but the text-only ones; and every
    nnreg dep covers at least one imported module (none is listed for nothing)."""
    p = load_params(REPO / "params.yaml")
    stages = list(_stages())
    probes = {(cmd.split()[1], *([p.models[name.split("@")[1]].trainer] if "@" in name else []))
              for name, cmd, _, _ in stages}

    def probe(key):  # each in its own process: an import is seen once per process
        out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / key[0]), *key[1:]], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        return key, {str(Path(f).resolve().relative_to(REPO)) for f in json.loads(out)}

    with ThreadPoolExecutor(max_workers=2) as pool:
        imports = dict(pool.map(probe, sorted(probes)))
    for name, cmd, deps, _ in stages:
        script = cmd.split()[1]
        assert script in deps, (name, script)
        trainer = [p.models[name.split("@")[1]].trainer] if "@" in name else []
        imported = imports[(script, *trainer)]
        listed = [d for d in deps if d.startswith("nnreg")]
        covered = lambda module: any(module == d or module.startswith(d.rstrip("/") + "/") for d in listed)  # noqa: E731
        missing = sorted(m for m in imported if not covered(m) and m not in TEXT_ONLY and not _docstring_only(m))
        unused = sorted(d for d in listed if not any(m == d or m.startswith(d.rstrip("/") + "/") for m in imported))
        assert not missing and not unused, f"{name}: imports {missing} unlisted; lists {unused}, never imported"


def test_the_text_only_modules_compute_nothing():
    """A text-only module imports no numerical library and nothing of nnreg that computes."""
    for path in TEXT_ONLY:
        tree = ast.parse((REPO / path).read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in names if m.split(".")[0] in ("jax", "optax", "keras", "scipy")}, path
        assert not {m for m in names if m.startswith(("nnreg.core", "nnreg.trainers."))}, path


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


def test_the_docs_flowchart_is_dvc_s_dag():
    """Every edge of `dvc dag --mermaid`, with one node per stage family, and no other."""
    import re

    out = subprocess.run([sys.executable, "-m", "dvc", "dag", "--mermaid"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    names = dict(re.findall(r'^\s*(node\d+)\["([^"]+)"\]', out, flags=re.M))
    dag = _edges([line for line in out.splitlines() if "-->" in line], names)
    page = (REPO / "docs/pipeline.md").read_text()
    block = re.search(r"```mermaid\nflowchart TD\n(.*?)```", page, flags=re.S).group(1)
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
