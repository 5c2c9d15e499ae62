"""The report's logic: which params make the lecture's numbers comparable, and the tables that
show them only where they are."""

from nnreg.params.export import to_dict
from nnreg.params.load import parse_params
from nnreg.params.schema import Params
from nnreg.report.lecture import LECTURE_TABLE, lecture_differences
from nnreg.report.tables import summary_markdown
from tests.helpers import edited


def _with(path: str, value) -> dict:
    """The default params with one key changed."""
    return edited(to_dict(Params()), path, value)


def test_lecture_differences_name_the_params_that_make_the_lecture_s_numbers_incomparable():
    assert all(lecture_differences(Params(), m) == [] for m in Params().models)
    relu = parse_params(_with("network.activation", "relu"))
    assert lecture_differences(relu, "gd") == ["network.activation"]
    faster = parse_params(_with("models.gd.learning_rate", 0.002))
    assert lecture_differences(faster, "gd") == ["models.gd.learning_rate"]
    assert lecture_differences(faster, "optax_adam") == []
    added = parse_params(_with("models.new", {"trainer": "jax", "optimizer": "gd", "learning_rate": 0.1}))
    assert lecture_differences(added, "new") == ["models.new"]


def test_the_summary_shows_the_lecture_s_columns_only_beside_comparable_rows():
    rows = [{"model": m, "method": m, "runtime_s": 1.0, "compile_s": 0.1, "device": "cpu", "train_mse": 0.04,
             "validate_mse": 0.05, "true_mse": 0.01, "diverged": False} for m in LECTURE_TABLE]
    same = summary_markdown(rows, {})
    assert "Lecture: validation" in same and "0.044817" in same and "not comparable" not in same
    one = summary_markdown(rows, {"gd": ["models.gd.learning_rate"]})
    gd_row = next(line for line in one.splitlines() if line.startswith("| gd |"))
    assert gd_row.endswith("|  |  |") and "0.044817" in one
    assert "blank where the params differ from the lecture's (models.gd.learning_rate)" in one
    relu = summary_markdown(rows, {m: ["network.activation"] for m in LECTURE_TABLE})
    assert "Lecture" not in relu.split("\n\n")[0] and "0.044817" not in relu
    assert "left out, since the params differ from the lecture's (network.activation)" in relu


def test_the_versions_table_judges_each_version_s_strategies():
    """A row a version's strategy in `models:` (a strategy of two versions has two), its printed number
    where the lecture's text gives it, the comparison's numbers and verdict; then each version's winner."""
    from nnreg.report.lecture import LECTURE_VERSIONS, versions_markdown

    def comparison(diff, verdict, robust=None):
        return {"mean_diff": diff, "ci_low": diff - 1e-4, "ci_high": diff + 1e-4, "p_value": 0.01, "verdict": verdict,
                "verdict_wilcoxon": robust or verdict, "depends_on_test": robust not in (None, verdict)}

    compare = {"deep": comparison(4e-4, "worse"), "deep_schedule": comparison(3e-4, "worse"),
               "armijo": comparison(-1e-4, "no detectable difference", "better")}
    single = {"optax_adam": 0.0409, "deep": 0.0417, "deep_schedule": 0.0416, "armijo": 0.04081}
    text = versions_markdown(single, compare, "optax_adam", 32)
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith(("| Lecture", "| ---"))]
    expected = [(v.commits, m) for v in LECTURE_VERSIONS for m in v.strategies if m in compare]
    assert len(rows) == len(expected) == 5  # deep and deep_schedule in two versions each
    armijo = rows[-1]
    assert armijo.startswith("| e5d26bf: Baseline + Armijo line search (its winner) | #268, 2026-07-09 | "
                             "0.040810 (+0.000058) | 0.040810 (+0.000090) |")
    assert "| -0.000100 [-0.000200, +0.000000] | 0.01 | no detectable difference (Wilcoxon: better) |" in armijo
    assert rows[0].startswith("| 69d51f2: 1. Deeper network (6 layers) | #254, 2025-11-29 |  | 0.041700 (-0.000800) |")
    assert rows[2].startswith("| e544012 to 0039a74: 1. Deeper network (6 layers) | #261, 2025-12-04 | "
                              "0.041686 (-0.000817) |")
    assert "69d51f2's 2. Deeper network + LR schedule is worse" in text
    assert "e5d26bf's Baseline + Armijo line search is no detectable difference" in text
    assert versions_markdown({}, {}, "optax_adam", 32) == ""
