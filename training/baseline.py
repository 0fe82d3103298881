"""The reference every report shows: TF-IDF + logistic regression on the bundle's training data.

Features are the sentence's word n-grams plus the words right around the actor's mentions (with a
prefix), so the baseline knows which actor it is asked about, as the model does.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from .data import LabelledPair, read_pairs

_WORD = re.compile(r"\w+")


def baseline_text(pair: LabelledPair, window: int = 6) -> str:
    near = []
    for start, end in pair.spans:
        before = _WORD.findall(pair.text[:start])[-window:]
        after = _WORD.findall(pair.text[end:])[:window]
        near += [f"L_{w.lower()}" for w in before] + [f"R_{w.lower()}" for w in after]
    return pair.text + " " + " ".join(near)


class Baseline:
    """One TF-IDF + logistic regression pipeline per task, fitted on the rows labelled for it."""

    def __init__(self, labels: dict[str, list[str]]):
        self.labels = labels
        self.models = {}

    def fit(self, pairs: list[LabelledPair]) -> Baseline:
        for task, names in self.labels.items():
            rows = [p for p in pairs if p.labels.get(task)]
            if len({p.labels[task] for p in rows}) < 2:
                continue
            model = make_pipeline(
                TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                LogisticRegression(max_iter=2000, C=4.0),
            )
            model.fit([baseline_text(p) for p in rows], [names.index(p.labels[task]) for p in rows])
            self.models[task] = model
        return self

    def predict(self, pairs: list[LabelledPair]) -> dict[str, np.ndarray]:
        texts = [baseline_text(p) for p in pairs]
        out = {}
        for task, model in self.models.items():
            probs = np.zeros((len(pairs), len(self.labels[task])))
            probs[:, model.classes_] = model.predict_proba(texts)
            out[task] = probs
        return out


def baseline_from_bundle(training_data: list[dict], labels: dict[str, list[str]]) -> tuple[Baseline | None, str]:
    """Fit on the sets the bundle was trained on; (None, why) when they cannot be found."""
    pairs = []
    for source in training_data:
        path = Path(source["path"])
        if not path.is_file():
            return None, f"training set {path} recorded in the bundle is not here"
        for pair in read_pairs(path, labels, source.get("limit")):
            pair.labels = {t: (v if t in source["tasks"] else None) for t, v in pair.labels.items()}
            pairs.append(pair)
    return Baseline(labels).fit(pairs), f"fitted on {len(pairs)} pairs of the bundle's training data"
