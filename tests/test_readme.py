"""The README's Guarantees table names tests that exist: every `file.py::test_name` it cites (a bare
`::test_name` continues the file before it) is a test function of that file, and every row cites one."""

import ast
import fnmatch
import re

from tests.conftest import REPO


def guarantees_rows() -> list[tuple[str, str]]:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Guarantees"):].split("\n\n", 3)[2]
    rows = [line.split(" | ") for line in table.splitlines()[2:] if line.startswith("| ")]
    return [(cells[0].lstrip("| "), cells[-1].rstrip(" |")) for cells in rows]


def cited_tests(proof: str) -> list[tuple[str, str | None]]:
    """(test file, test name or None) for each reference in a row's "proven by" cell."""
    found, current = [], None
    for ref in re.findall(r"`([^`]+)`", proof):
        file, _, name = ref.partition("::")
        if file.endswith(".py"):
            current = file if "/" in file else f"tests/{file}"
        elif not file and name:
            pass
        else:
            continue
        found.append((current, name or None))
    return found


def test_every_guarantee_cites_tests_that_exist():
    rows = guarantees_rows()
    assert len(rows) >= 30
    for claim, proof in rows:
        cited = cited_tests(proof)
        assert cited, f"no test cited for: {claim[:80]}"
        for file, name in cited:
            path = REPO / file
            assert path.is_file(), f"{file} (cited for {claim[:60]}...) does not exist"
            if name is None:
                continue
            functions = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
            if name.endswith("*"):
                assert any(f.startswith(name[:-1]) for f in functions), f"{file}::{name}"
            else:
                assert name in functions, f"{file}::{name} (cited for {claim[:60]}...) is not a test there"


def test_every_guarantee_has_a_break_that_still_applies():
    """tools/break_guarantees.py breaks each promise and checks that its test then fails (`make
    break-guarantees`, 20-30 min): here, that it covers every row and that each edit still applies."""
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    import break_guarantees

    rows = guarantees_rows()
    for b in break_guarantees.BREAKS:
        assert break_guarantees.applies(b), f"{b.file}: the break '{b.what}' no longer applies: update it"
        row = [proof for claim, proof in rows if claim.startswith(b.row)]
        assert len(row) == 1, f"no single Guarantees row starts with {b.row!r}"
        file, name = b.test.split("::")
        assert any(f == file and (n is None or fnmatch.fnmatch(name, n)) for f, n in cited_tests(row[0])), \
            f"{b.test} breaks {b.row!r} but that row does not cite it"
    assert f"lists them, {len(break_guarantees.BREAKS)} in all" in (REPO / "README.md").read_text()
    uncovered = [claim[:70] for claim, _ in rows if not any(claim.startswith(b.row) for b in break_guarantees.BREAKS)]
    assert not uncovered, f"Guarantees rows with no break in tools/break_guarantees.py: {uncovered}"
