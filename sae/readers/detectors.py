"""Reading known binary variables from activations: single units (AUROC) and linear probes.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): N samples, m units (neurons, SAE
latents, dictionary atoms), G binary variables (for instance the gates of a circuit), D activation
dimensions.

- `auroc(scores, labels)`: for unit j and variable g, the area under the ROC curve of
  the unit's value as a detector of the variable, the probability that a random
  positive sample scores above a random negative one (ties count ½). Computed exactly
  from average ranks (Mann–Whitney): AUC = (Σ_{positives} rank − P(P + 1)/2) / (P·Q)
  for P positives and Q negatives; 0.5 is chance.
- `best_unit_auroc`: per variable, the best unit read either way, max_j max(AUC, 1 − AUC)
  (a unit that fires exactly when the variable is off reads it as well as one that
  fires when it is on), and which unit that is.
- `probe_accuracy`: per variable, a logistic-regression probe (scikit-learn, inputs
  standardised, L2 strength C, classes weighted equally) fitted on the training rows and
  scored on the held-out rows by balanced accuracy, ½(TPR + TNR) — the linear read-out
  ceiling. Balanced, because plain accuracy rewards a majority vote: a gate that is on
  for 1 row in 16 would score 0.94 with a probe that always says "off"; chance is 0.5
  here whatever the balance, as for AUROC.
- `held_out(estimator, …)`: any scikit-learn classifier fitted on the training rows of
  one binary variable, scored on the held-out rows by balanced accuracy and by the AUROC
  of its predicted probability. `linear_probe()` is the "direction" view (one
  half-space); `region_detector()` is the "position" view: k-nearest neighbours in the
  raw activation space (Euclidean, unscaled), which can enclose a region no half-space can.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float
from scipy.stats import rankdata

from toys.engine.shapes import AnyArray


def auroc(scores: Float[AnyArray, "N m"], labels: Bool[AnyArray, "N G"]) -> np.ndarray:
    """AUC of every unit for every variable: scores [N, m], labels [N, G] bool → [m, G] (NaN for a constant variable)."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels, bool)
    ranks = rankdata(scores, axis=0)  # average ranks: ties count ½
    positives = labels.sum(axis=0).astype(np.float64)
    negatives = labels.shape[0] - positives
    rank_sums = ranks.T @ labels.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rank_sums - positives * (positives + 1) / 2) / (positives * negatives)


def best_unit_auroc(scores: Float[AnyArray, "N m"], labels: Bool[AnyArray, "N G"]) -> tuple[np.ndarray, np.ndarray]:
    """Per variable the best unit's max(AUC, 1 − AUC), [G], and that unit's index, [G]."""
    table = auroc(scores, labels)
    either_way = np.maximum(table, 1.0 - table)
    return np.nanmax(either_way, axis=0), np.nanargmax(either_way, axis=0)


def probe_accuracy(
    features: Float[AnyArray, "N D"], labels: Bool[AnyArray, "N G"], train_rows: Bool[AnyArray, " N"], C: float = 1.0
) -> np.ndarray:
    """Held-out balanced accuracy of one logistic-regression probe per variable, [G].

    features [N, D]; labels [N, G] bool; train_rows [N] bool (the others are the test rows).
    A variable that is constant on the training rows cannot be probed: it scores 0.5.
    """
    from sklearn.metrics import (
        balanced_accuracy_score,  # here, not at the top: scikit-learn loads pandas and pyarrow (~1 s), which a refusal need not pay
    )

    features = np.asarray(features, np.float64)
    labels = np.asarray(labels, bool)
    train_rows = np.asarray(train_rows, bool)
    test_rows = ~train_rows
    out = []
    for g in range(labels.shape[1]):
        y_train, y_test = labels[train_rows, g], labels[test_rows, g]
        if y_train.all() or not y_train.any() or y_test.all() or not y_test.any():
            out.append(0.5)
            continue
        probe = linear_probe(C)
        probe.fit(features[train_rows], y_train)
        out.append(float(balanced_accuracy_score(y_test, probe.predict(features[test_rows]))))
    return np.asarray(out)


def linear_probe(C: float = 1.0):
    """Logistic regression on standardised inputs, classes weighted equally."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, class_weight="balanced"))


def region_detector(neighbours: int = 15):
    """k-nearest-neighbours vote in the raw activation space."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=neighbours)


def held_out(estimator, features: Float[AnyArray, "N D"], label, train_rows: Bool[AnyArray, " N"]) -> tuple[float, float]:
    """(balanced accuracy, AUROC) on the held-out rows of a classifier fitted on the training rows.

    features [N, D]; label [N] bool; train_rows [N] bool.
    """
    from sklearn.metrics import balanced_accuracy_score

    features = np.asarray(features, np.float64)
    label = np.asarray(label, bool)
    train_rows = np.asarray(train_rows, bool)
    estimator.fit(features[train_rows], label[train_rows])
    test = features[~train_rows]
    accuracy = balanced_accuracy_score(label[~train_rows], estimator.predict(test))
    score = estimator.predict_proba(test)[:, 1]
    return float(accuracy), float(auroc(score[:, None], label[~train_rows, None])[0, 0])
