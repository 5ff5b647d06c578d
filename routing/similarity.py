"""Possible duplicates by meaning (多人一事): several citizens writing about the same place or matter.

Pure Python + scikit-learn, no database. The texts of a bounded window of recent open tickets and the tickets a
dispatcher is looking at are vectorised together with character 1-2-gram TF-IDF (on the classifier's
:func:`~routing.classifier.normalise` form, so punctuation, full-width letters and fillers do not count); the
cosine of two vectors is their similarity in [0, 1]. Fitting the IDF on the window itself makes the n-grams every
complaint shares ("投诉", "反映", "没人管") weigh little and the rare ones (a street name, a crossing, a shop) weigh
much: two texts naming the same crossing with different words still share those rare n-grams.

Character n-grams need no word segmenter and work the same on English (sub-word features).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from routing.classifier import normalise

__all__ = ["DEFAULT_MIN_SIMILARITY", "Match", "similar"]

# Measured on texts written for the tests (tests/routing/test_similarity.py): the same crossing or pothole described
# in other words scored 0.21-0.33, a different matter on the same street 0.10-0.12, unrelated matters below 0.05.
# 1-2-grams separated them better than 2-3-grams (0.11-0.21 against 0.07), which need longer shared phrases.
DEFAULT_MIN_SIMILARITY = 0.18
# Only the start of long texts is compared: the place and the matter come first, and the cost stays bounded.
MAX_CHARS = 400


@dataclass(frozen=True)
class Match:
    """Candidate ``index`` (into the window) resembles the target with ``score`` (cosine, 0-1)."""

    index: int
    score: float


def similar(
    targets: Sequence[str],
    window: Sequence[str],
    *,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    limit: int = 5,
) -> list[list[Match]]:
    """For each target text, the window texts at least ``min_similarity`` alike, most similar first.

    A window text identical to the target object is not excluded here: the caller leaves the target's own
    ticket out of the window (or filters its index).
    """
    if not targets:
        return []
    if not window:
        return [[] for _ in targets]
    docs = [normalise(t[:MAX_CHARS]) for t in (*targets, *window)]
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
    try:
        matrix = vectoriser.fit_transform(docs)  # rows are L2-normalised: a dot product is the cosine
    except ValueError:  # nothing but one-character texts: no n-gram at all
        return [[] for _ in targets]
    scores = (matrix[: len(targets)] @ matrix[len(targets) :].T).toarray()
    out = []
    for row in scores:
        order = np.argsort(-row, kind="stable")[:limit]
        out.append([Match(int(i), round(float(row[i]), 4)) for i in order if row[i] >= min_similarity])
    return out
