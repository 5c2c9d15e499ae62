"""docs/guarantees.md names tests that exist: every `path.py::test_name` it cites (a bare
`::test_name` continues the file before it) is a test function of that file, every row cites
one, and each break of tools/break_guarantees.py names a row that cites its test."""

import ast
import fnmatch
import re
import subprocess

from tests.conftest import REPO
from tools import break_guarantees


def guarantees_rows() -> list[tuple[str, str]]:
    text = (REPO / "docs/guarantees.md").read_text()
    table = text[text.index("| property | proven by |"):]
    rows = [line.split(" | ") for line in table.splitlines()[2:] if line.startswith("| ")]
    return [(cells[0].lstrip("| "), cells[-1].rstrip(" |")) for cells in rows]


def cited_tests(proof: str) -> list[tuple[str, str | None]]:
    """(test file, test name or None) for each reference in a row's "proven by" cell."""
    found, current = [], None
    for ref in re.findall(r"`([^`]+)`", proof):
        file, _, name = ref.partition("::")
        if file.endswith(".py"):
            current = file
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


def test_each_break_names_a_row_that_cites_its_test():
    """tools/break_guarantees.py breaks the central promises and checks that each one's test then
    fails (`make break-guarantees`); here, only that each break and its row point at each other."""
    rows = guarantees_rows()
    assert len(break_guarantees.BREAKS) >= 10
    for b in break_guarantees.BREAKS:
        row = [proof for claim, proof in rows if claim.startswith(b.row)]
        assert len(row) == 1, f"no single row of docs/guarantees.md starts with {b.row!r}"
        file, name = b.test.split("::")
        assert any(f == file and (n is None or fnmatch.fnmatch(name, n)) for f, n in cited_tests(row[0])), \
            f"{b.test} breaks {b.row!r} but that row does not cite it"


def test_the_docs_link_pages_that_exist():
    """Every relative link of the README and docs/ points at a file that exists."""
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.relative_to(REPO)} links {target}, which does not exist"


def test_the_layout_names_every_package():
    """docs/contributing.md's layout names every package of nnreg/ and every folder git keeps at the
    top (the structure; which module holds what is for the modules' own docstrings to say)."""
    layout = (REPO / "docs/contributing.md").read_text()
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    folders = {path.split("/")[0] for path in tracked.splitlines() if "/" in path and not path.startswith(".")}
    folders |= {p.name for p in (REPO / "nnreg").iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(f for f in folders if not re.search(rf"(^|[\s,(]){re.escape(f)}/", layout, re.M))
    assert not missing, f"docs/contributing.md's layout does not name {missing}"


def test_the_performance_page_is_one_current_table_per_benchmark():
    """docs/performance.md states the present: at most 150 lines, every benchmark script named (the
    lecture's loop is `bench.py`'s helper), each section's table with its command and a date."""
    text = (REPO / "docs/performance.md").read_text()
    assert len(text.splitlines()) <= 150
    scripts = {p.name for p in (REPO / "benchmarks").iterdir() if p.suffix in (".py", ".sh")} - {"lecture_loop.py"}
    assert not {s for s in scripts if f"benchmarks/{s}" not in text}, "benchmarks docs/performance.md never names"
    for section in text.split("\n## ")[1:]:
        if "| --- |" in section:
            assert re.search(r"`(python benchmarks/\S+|make bench)[^`]*`.*?\b20\d\d-\d\d-\d\d\b", section, re.S), \
                section.splitlines()[0]
