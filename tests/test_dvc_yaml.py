"""dvc.yaml is honest: each stage depends on exactly the nnreg modules its script imports."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from nnreg import MODELS
from tests.conftest import REPO

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("stage", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()
                        if (n == "nnreg" or n.startswith("nnreg.")) and getattr(m, "__file__", None))))
"""


def _stages():
    """(name, cmd, deps, params) of every stage, with foreach expanded as DVC does."""
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        if "foreach" not in stage:
            yield name, stage["cmd"], stage["deps"], stage.get("params", [])
            continue
        items = stage["foreach"]
        pairs = items.items() if isinstance(items, dict) else [(i, i) for i in items]
        for key, item in pairs:
            def fill(text, key=key, item=item):
                text = text.replace("${key}", key)
                if isinstance(item, dict):
                    for k, v in item.items():
                        text = text.replace("${item.%s}" % k, v)
                return text.replace("${item}", str(item))
            do = stage["do"]
            yield (f"{name}@{key}", fill(do["cmd"]), [fill(d) if isinstance(d, str) else d for d in do["deps"]],
                   [fill(p) for p in do.get("params", [])])


def test_every_model_has_a_train_and_an_evaluate_stage():
    names = {name for name, *_ in _stages()}
    assert names == {"data", "report"} | {f"{s}@{m}" for s in ("train", "evaluate") for m in MODELS}


def test_stage_deps_are_exactly_the_modules_the_script_imports():
    for name, cmd, deps, _ in _stages():
        script = cmd.split()[1]
        assert script in deps, (name, script)
        out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / script)], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        imported = {str(Path(f).resolve().relative_to(REPO)) for f in json.loads(out)}
        listed = {d for d in deps if isinstance(d, str) and d.startswith("nnreg/")}
        assert imported == listed, f"{name}: imports {sorted(imported - listed)} unlisted, lists {sorted(listed - imported)} unused"


def test_training_stages_read_only_their_own_model_params():
    for name, _, _, params in _stages():
        if name.startswith("train@"):
            model = name.split("@")[1]
            assert [p for p in params if p.startswith("models")] == [f"models.{model}"], name


def test_dvc_makes_no_network_calls_of_its_own():
    """Analytics and the update check are off in the repo's config (the pipeline itself is offline)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / ".dvc/config")
    assert config["core"]["analytics"] == "false" and config["core"]["check_update"] == "false"
