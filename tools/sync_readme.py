"""Copies the committed results into the README: each row of its Results tables is replaced by the
row of plots/summary.md with the same first cell and the same number of columns.

    python tools/sync_readme.py      (`make readme`, after `dvc repro`)

tests/unit/test_results.py fails while a README row is not a row of plots/summary.md.
"""

import sys
from pathlib import Path


def synced(readme: str, summary: list[str]) -> str:
    start = readme.index("## Results")
    end = readme.index("\n## ", start + 1)

    def key(row):
        cells = row.split("|")
        return cells[1].strip(), len(cells)

    rows = {}
    for row in summary:
        if row.startswith("| "):
            rows.setdefault(key(row), []).append(row)
    out = []
    for line in readme[start:end].splitlines():
        if line.startswith("| ") and line not in summary:
            found = rows.get(key(line), [])
            if len(found) != 1:
                sys.exit(f"README.md: no single row of plots/summary.md for {line[:60]}...; edit it by hand")
            line = found[0]
        out.append(line)
    return readme[:start] + "\n".join(out) + "\n" + readme[end:]


if __name__ == "__main__":
    readme = Path("README.md")
    readme.write_text(synced(readme.read_text(), Path("plots/summary.md").read_text().splitlines()))
