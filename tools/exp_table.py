"""`make exp`: the experiments as a readable table (`dvc exp show --json`, extra arguments passed on)."""

import json
import shutil
import subprocess
import sys

from nnreg.report.experiments import render, table

if __name__ == "__main__":
    proc = subprocess.run(["dvc", "exp", "show", "--json", *sys.argv[1:]], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(proc.stderr.strip() or f"dvc exp show failed ({proc.returncode})")
    print(render(table(json.loads(proc.stdout)), width=shutil.get_terminal_size((120, 24)).columns))
