"""The page of `dvc plots show` and `dvc plots diff`, opened in headless Chromium with no
network: every vega plot draws, every image loads, and nothing is reported as an error.

The page is DVC's own output from the committed plot data. The test loads a copy with
one script added at the top of <head>: it records errors (console.error, uncaught
exceptions, rejected promises, resources that failed to load) and, once the page has
drawn, writes what it found into the page, which `--dump-dom` then returns. A
screenshot of the whole page is kept in dvc_plots/ (ignored by git).
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
# CI sets NNREG_REQUIRE_BROWSER=1 (after installing chromium): there, a missing browser fails.
pytestmark = pytest.mark.skipif(BROWSER is None and os.environ.get("NNREG_REQUIRE_BROWSER") != "1",
                                reason="no headless browser: install Debian's `chromium` (.ci/run does) "
                                       "to test the plots page")

PROBE = """<script>
window.__nnreg = {errors: []};
const __record = (what) => window.__nnreg.errors.push(String(what));
const __consoleError = console.error;
console.error = (...args) => { __record(args.join(" ")); __consoleError(...args); };
window.addEventListener("error", (e) => __record(e.message || ("failed to load " + (e.target.src || e.target.href))), true);
window.addEventListener("unhandledrejection", (e) => __record("unhandled rejection: " + e.reason));
window.addEventListener("load", () => setTimeout(() => {
  const plots = __PLOT_IDS__.map((id) => {
      const div = document.getElementById(id);
      const canvas = div && div.querySelector("canvas.marks");
      const svg = div && div.querySelector("svg.marks");
      let drawn = false;
      if (canvas && canvas.width > 0 && canvas.height > 0) {
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < pixels.length && !drawn; i += 4) drawn = pixels[i + 3] > 0 && pixels[i] < 200;
      } else if (svg) {
        drawn = svg.querySelectorAll("path, line, rect, circle, text").length > 0;
      }
      return {id, drawn};
    });
  const images = [...document.images].map((i) => ({src: i.getAttribute("src"), loaded: i.complete && i.naturalWidth > 0}));
  const out = document.createElement("pre");
  out.id = "nnreg-check";
  out.textContent = JSON.stringify({plots, images, errors: window.__nnreg.errors,
                                    height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
}, 5000));
</script>"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # any request to the network fails


def _page(tmp_path, *command):
    out = tmp_path / command[0]
    subprocess.run([sys.executable, "-m", "dvc", "plots", *command, "-o", str(out)], cwd=REPO, check=True, capture_output=True, text=True)
    return out / "index.html"


def _check_in_browser(page):
    html = page.read_text()
    assert not re.search(r"<script[^>]+src=\"https?:", html), "the page loads scripts from the network"
    probe = page.with_name("check.html")
    ids = re.findall(r"vegaEmbed\('#([^']+)'", html)  # vega-embed replaces these scripts as it draws
    probe.write_text(html.replace("<head>", "<head>\n" + PROBE.replace("__PLOT_IDS__", json.dumps(ids)), 1))
    proc = subprocess.run([BROWSER, *FLAGS, "--virtual-time-budget=30000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="nnreg-check">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page never finished loading: {proc.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


@pytest.mark.parametrize("command", [("show",), ("diff", "HEAD")], ids=["show", "diff"])
def test_every_plot_draws_offline_in_a_real_browser(tmp_path, command):
    page = _page(tmp_path, *command)
    result = _check_in_browser(page)

    titles = re.findall(r"vegaEmbed\('#([^']+)'", page.read_text())
    assert len(result["plots"]) == len(titles) >= 6, result["plots"]
    assert [p["id"] for p in result["plots"] if not p["drawn"]] == [], result["plots"]
    assert len(result["images"]) >= 7 and all(i["loaded"] for i in result["images"]), result["images"]
    assert result["errors"] == []

    if command == ("show",):  # the whole page, for the eye (and the closing note)
        shots = REPO / "dvc_plots"
        shots.mkdir(exist_ok=True)
        subprocess.run([BROWSER, *FLAGS, "--virtual-time-budget=30000", f"--window-size=1400,{result['height']}",
                        f"--screenshot={shots / 'screenshot.png'}", page.as_uri()],
                       capture_output=True, text=True, timeout=180, check=True)
        assert (shots / "screenshot.png").stat().st_size > 10_000


def test_the_page_template_is_dvc_s_config_and_inlines_pinned_scripts():
    config = (REPO / ".dvc/config").read_text()
    assert re.search(r"html_template\s*=\s*plots/page.html", config)
    page = (REPO / ".dvc/plots/page.html").read_text()
    versions = re.search(r"<!-- (vega \S+, vega-lite \S+, vega-embed \S+):", page)
    assert versions, "page.html says which versions it inlines"
    for package in ("vega", "vega-lite", "vega-embed"):
        assert (REPO / f".dvc/plots/licenses/{package}.txt").exists()
    assert "{plot_divs}" in page and "{scripts}" not in page  # DVC's CDN scripts are left out


def test_the_interactive_plots_read_long_thinned_data_one_colour_per_model():
    import numpy as np
    import pandas as pd

    from nnreg.params.load import load_params
    from nnreg.report.tables import thinned_epochs

    epochs = thinned_epochs(4000)
    assert epochs[0] == 1 and epochs[-1] == 4000 and len(epochs) <= 200 and np.all(np.diff(epochs) > 0)
    assert thinned_epochs(5).tolist() == [1, 2, 3, 4, 5]

    models = set(load_params(REPO / "params.yaml").models)
    losses = pd.read_csv(REPO / "plots/data/losses.csv")
    assert set(losses["model"]) == models and set(losses["split"]) == {"training", "validation"}
    assert losses.groupby(["model", "split"]).size().max() <= 200
    history = pd.read_csv(REPO / "plots/history/gd.csv")  # the full history stays as data
    gd = losses[(losses["model"] == "gd") & (losses["split"] == "validation")]
    assert np.array_equal(gd["loss"].to_numpy(), history["validate_loss"].to_numpy()[gd["epoch"].to_numpy() - 1])
    assert set(pd.read_csv(REPO / "plots/data/fits.csv")["model"]) == models
    assert set(pd.read_csv(REPO / "plots/data/points.csv")["set"]) == {"training", "validation"}
    for name, colour in (("losses", "model"), ("fits", "model"), ("points", "set")):
        spec = json.loads((REPO / f".dvc/plots/{name}.json").read_text())
        assert spec["encoding"]["color"]["field"] == colour, name
    assert json.loads((REPO / ".dvc/plots/losses.json").read_text())["encoding"]["y"]["scale"]["type"] == "log"


def test_the_page_is_small(tmp_path):
    page = _page(tmp_path, "show")
    assert page.stat().st_size < 3_000_000  # 7 MB when every loss curve carried all 4,000 epochs
