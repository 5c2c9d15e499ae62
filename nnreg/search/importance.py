"""Each search parameter's importance to the score, by Optuna's PED-ANOVA evaluator, with
Optuna's warnings turned into data: which parameters' importances left regimes out."""

from __future__ import annotations

import math
import re
import warnings

import optuna
from optuna.trial import TrialState

# Optuna's PED-ANOVA leaves a regime of a parameter (a range of its values, or "not asked")
# with fewer than two trials out of its importance, and warns once per such parameter.
_SPARSE = re.compile(r"parameter `([^`]+)` have less than \d+ trials")
_LOW_TARGET = "to achieve low `target` values"  # what the score is: said on every call


def importances(study: optuna.Study) -> tuple[list[dict], list[str]]:
    """Each parameter's importance to the log search score of the complete trials (a diverged
    trial counts as the worst finite score), by Optuna's PED-ANOVA evaluator, which weighs a
    parameter asked of only some trials, such as a width of one depth, on those trials
    (Optuna's fANOVA would need scikit-learn).

    Returns (rows {parameter, importance}, ranked by importance, ties by name; the parameters
    some of whose regimes had fewer than two complete trials and were left out, so that their
    importance may read low, 0 if a single regime was left). Optuna's two expected warnings
    become that list; any other warning is passed on, through the caller's filters."""
    values = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return [], []
    worst = max(finite)
    target = lambda t: math.log(t.value if math.isfinite(t.value) else worst)  # noqa: E731
    caught: list[warnings.WarningMessage] = []
    sparse: set[str] = set()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            ranked = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), target=target)
    finally:
        for w in caught:
            text = str(w.message)
            if issubclass(w.category, UserWarning) and (m := _SPARSE.search(text)):
                sparse.add(m.group(1))
            elif not (issubclass(w.category, UserWarning) and _LOW_TARGET in text):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    # Ties (the zeros) by name: Optuna's order of ties follows string hashing.
    rows = [{"parameter": k, "importance": v} for k, v in sorted(ranked.items(), key=lambda kv: (-kv[1], kv[0]))]
    return rows, sorted(sparse)
