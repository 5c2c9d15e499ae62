"""The package's shape: no import cycle, layers, a pure core, no long module, thin stages."""

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "nnreg"


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The modules `path` imports, in functions and in `if TYPE_CHECKING:` blocks too: a type
    that points back up a layer is a circle in the design, whether or not it runs."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
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


# The packages bottom up: each imports only from those below it (or itself), so the layers read
# top down (docs/contributing.md). Trainers and the runtime are one layer: neither imports the other.
LAYERS = [{"errors"}, {"core"}, {"params"}, {"trainers", "runtime"}, {"search"}, {"report"}]


def test_each_package_imports_only_the_layers_below_it():
    level = {package: i for i, layer in enumerate(LAYERS) for package in layer}
    graph = _graph()
    assert {m.split(".")[1] for m in graph if m != "nnreg"} == set(level), "a package LAYERS does not place"
    upward = sorted(f"{m} -> {o}" for m, others in graph.items() if m != "nnreg" for o in others
                    if o != "nnreg" and o.split(".")[1] != m.split(".")[1]
                    and level[o.split(".")[1]] >= level[m.split(".")[1]])
    assert not upward, f"imports up or across a layer: {upward}"


def test_the_file_helpers_know_only_the_records_they_write():
    """nnreg.runtime.files reads and writes files: it needs the records it stores (a data set, a
    network's layers), not the training loop or the params' messages."""
    ours = {m for m in _graph()["nnreg.runtime.files"]}
    assert ours <= {"nnreg.errors", "nnreg.core.data", "nnreg.core.network"}, ours


def test_the_core_is_pure():
    """nnreg.core imports nothing of the runtime, the trainers, the params, the search or the
    report (not even for a type), and nothing that reads or writes files, the environment,
    signals or processes."""
    outside = ("nnreg.runtime", "nnreg.trainers", "nnreg.params", "nnreg.search", "nnreg.report")
    side_effects = {"os", "sys", "signal", "subprocess", "pathlib", "tempfile", "shutil", "io"}
    for path in sorted((PACKAGE / "core").glob("*.py")):
        bad = sorted(i for i in _imports(path) if i.startswith(outside) or i.split(".")[0] in side_effects)
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"
        calls = {n.func.id for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not {"open", "print", "input"} & calls, f"{path.relative_to(REPO)} calls {calls & {'open', 'print'}}"


def test_no_module_is_over_300_lines():
    """A module of the package holds one concept: at most 300 lines (split it where it holds two)."""
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 300}
    assert not long, long


def test_stage_scripts_are_thin_and_the_code_holds_no_dated_measurement():
    """A stage script reads params, calls the library and writes (at most 80 lines); a figure measured on a day belongs in docs/performance.md and the
    benchmarks' output, not in a comment or docstring that goes stale (a date names one)."""
    long = {p.name: n for p in (REPO / "stages").glob("*.py") if (n := len(p.read_text().splitlines())) > 80}
    assert not long, long
    date = re.compile(r"\b20(2[5-9]|[3-9]\d)-[01]\d-[0-3]\d\b")
    dated = [f"{p.relative_to(REPO)}:{line}" for p in [*PACKAGE.rglob("*.py"), *(REPO / "stages").glob("*.py")]
             for line, text in _comments_and_docstrings(p.read_text()) if date.search(text)]
    assert not dated, dated
    # The check reads comments and docstrings only: a date that is data (a lecture version's) is no measurement.
    assert _comments_and_docstrings('"""On 2026-01-01."""\nx = "2026-01-01"  # 2026-01-02\n') == [
        (1, '"""On 2026-01-01."""'), (2, "# 2026-01-02")]


def _comments_and_docstrings(source: str) -> list[tuple[int, str]]:
    """(line, text) of each comment and each docstring's lines of `source`."""
    import ast
    import io
    import tokenize

    found = [(t.start[0], t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type == tokenize.COMMENT]
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            found += [(i, lines[i - 1]) for i in range(body[0].lineno, body[0].end_lineno + 1)]
    return sorted(found)
