"""Builds .dvc/plots/page.html, the HTML template of `dvc plots show` and `dvc plots diff`
(`plots.html_template` in .dvc/config), with vega, vega-lite and vega-embed inlined: the
page draws every plot with no network. DVC's own template loads them from a CDN.

    python tools/plots_page.py NODE_MODULES   # a folder where npm installed the three

`make plots-page` installs the versions pinned in the Makefile with npm and runs this;
their licences go to .dvc/plots/licenses/.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

PACKAGES = {"vega": "vega.min.js", "vega-lite": "vega-lite.min.js", "vega-embed": "vega-embed.min.js"}
PLOTS = Path(__file__).resolve().parent.parent / ".dvc" / "plots"

# DVC fills {scripts} (its CDN tags: left out here), {plot_divs} and {refresh_tag}.
PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>nnreg: DVC plots</title>
    <!-- {versions}: inlined by tools/plots_page.py (make plots-page); licences in .dvc/plots/licenses/ -->
{scripts}
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
        img {{ max-width: 100%; height: auto; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""

# vega's npm package carries no LICENSE file; its package.json says BSD-3-Clause.
VEGA_LICENSE = """vega: BSD-3-Clause (package.json "license"). Copyright (c) 2013, Trifacta Inc.;
Copyright (c) 2015-2023, University of Washington Interactive Data Lab. The terms are those
of vega-lite's LICENSE beside this file, with these holders. vega.min.js bundles d3
modules (ISC licence, Copyright Mike Bostock).
"""


def main(node_modules: Path) -> None:
    versions, scripts = [], []
    licenses = PLOTS / "licenses"
    licenses.mkdir(parents=True, exist_ok=True)
    for package, build in PACKAGES.items():
        root = node_modules / package
        version = json.loads((root / "package.json").read_text())["version"]
        source = (root / "build" / build).read_text(encoding="utf-8")
        if "</script" in source:
            raise SystemExit(f"{package}: its build contains '</script', which cannot be inlined")
        versions.append(f"{package} {version}")
        scripts.append(f'    <script type="text/javascript">/* {package} {version} */\n{source}\n    </script>')
        if (root / "LICENSE").exists():
            shutil.copyfile(root / "LICENSE", licenses / f"{package}.txt")
    (licenses / "vega.txt").write_text(VEGA_LICENSE)
    (PLOTS / "page.html").write_text(PAGE.format(versions=", ".join(versions), scripts="\n".join(scripts)),
                                     encoding="utf-8")
    print(f"{PLOTS / 'page.html'}: {', '.join(versions)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
