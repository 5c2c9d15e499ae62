"""A paired comparison with the baseline in a table: its cells (the mean difference, its three
intervals, the win rate, both corrected p-values, the verdict), and the sentence that says what
the corrections cover."""

from __future__ import annotations

from typing import Mapping

from nnreg.report.labels import fmt


# The columns of a paired comparison with the baseline (`comparison_cells`), after its first.
COMPARISON_HEADER = ["[95 % CI, this comparison]", "[95 % CI, simultaneous]", "[95 % CI, BCa bootstrap]",
                     "Lower on [95 % CI]", "p: t-test (Holm)", "p: Wilcoxon (Holm)", "Verdict"]


def comparison_cells(c: dict) -> list[str]:
    """A comparison's cells under `Paired difference from <baseline>: mean` and COMPARISON_HEADER:
    the mean difference, its three intervals, the win rate with its interval, both corrected
    p-values, and the t-test's verdict, with Wilcoxon's beside it when the two disagree."""
    def interval(low, high):
        return f"[{fmt(low, 6, True)}, {fmt(high, 6, True)}]"

    def p(value):
        return "n/a" if value is None else f"{value:.2g}"

    won = "n/a" if c["win_rate"] is None else \
        f"{c['win_rate']:.0%} [{c['win_low']:.0%}, {c['win_high']:.0%}]".replace("%", " %")
    return [fmt(c["mean_diff"], 6, signed=True), interval(c["ci_low"], c["ci_high"]),
            interval(c["sim_low"], c["sim_high"]), interval(c["bca_low"], c["bca_high"]), won,
            p(c["p_value"]), p(c["p_wilcoxon"]), verdict_text(c)]


def verdict_text(c: dict) -> str:
    """A comparison's verdict, the t-test's, with Wilcoxon's beside it where they differ."""
    return c["verdict"] + (f" (Wilcoxon: {c['verdict_wilcoxon']})" if c["depends_on_test"] else "")


def family_note(comparisons: Mapping[str, dict], name=lambda key: key) -> str:
    """What the corrections cover: the family's size, and the comparisons that are one hypothesis."""
    family = next(iter(comparisons.values()))["family"] if comparisons else 0
    same = {}
    for key, c in comparisons.items():
        same.setdefault(c["hypothesis"], []).append(name(key))
    merged = "; ".join(f"{' and '.join(names)} have the same numbers, one hypothesis"
                       for names in same.values() if len(names) > 1)
    return (f"p: the paired t-test and the Wilcoxon signed-rank test on the replicates where both stayed finite, "
            f"each corrected by Holm's step-down over the family of {family} distinct comparisons"
            + (f" ({merged})" if merged else "") + "; the verdict is the t-test's, `better` or `worse` when its "
            f"p < 0.05, with Wilcoxon's beside it where they differ. Intervals of the mean difference: the t interval "
            f"of this comparison alone, the simultaneous one (95 % for all {family} at once: Bonferroni's, wider than "
            f"Holm's test needs, so it may hold 0 beside a Holm verdict), and the BCa bootstrap interval. Lower on: the share of replicates where the model is lower (a tie counts half), with its "
            f"exact 95 % interval.")


