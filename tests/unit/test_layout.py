"""The package's shape: no import cycle, a pure core, no module long without a reason."""

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "nnreg"


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The modules `path` imports when it runs (in functions too), leaving out `if TYPE_CHECKING:`
    blocks, which only type checkers read."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
               for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from nnreg import trainers`
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}


def test_no_module_imports_another_in_a_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                cycle = path[path.index(other):] + [other] if other in path else [module, other]
                raise AssertionError(f"an import cycle: {' -> '.join(cycle)}")
            if other not in state:
                visit(other, path + [other])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_core_is_pure():
    """nnreg.core imports nothing of the runtime, the trainers, the params (but types) or the
    report, and nothing that reads or writes files, the environment, signals or processes."""
    outside = ("nnreg.runtime", "nnreg.trainers", "nnreg.params", "nnreg.report")
    side_effects = {"os", "sys", "signal", "subprocess", "pathlib", "tempfile", "shutil", "io"}
    for path in sorted((PACKAGE / "core").glob("*.py")):
        bad = sorted(i for i in _imports(path) if i.startswith(outside) or i.split(".")[0] in side_effects)
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"
        calls = {n.func.id for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not {"open", "print", "input"} & calls, f"{path.relative_to(REPO)} calls {calls & {'open', 'print'}}"


def test_no_module_is_long_without_a_reason():
    """A module over 400 lines says why in its docstring (a line starting "Long:")."""
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            doc = ast.get_docstring(ast.parse(text)) or ""
            assert any(line.startswith("Long:") for line in doc.splitlines()), \
                f"{path.relative_to(REPO)}: {len(text.splitlines())} lines, and its docstring says not why"
