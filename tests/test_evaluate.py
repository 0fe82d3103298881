"""The evaluation report: metrics.json agrees with scikit-learn on the same predictions."""

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from inference.config import EvaluateConfig
from inference.predict import Predictor
from training.data import read_pairs
from training.evaluate import evaluate
from training.metrics import bootstrap_samples, bootstrap_scores


@pytest.fixture(scope="module")
def report(tiny_bundle, tiny_pairs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    stance_only = out / "stance_only.jsonl"
    rows = [json.loads(line) for line in tiny_pairs.read_text().splitlines()]
    stance_only.write_text("".join(json.dumps({**r, "sentiment": None}) + "\n" for r in rows))
    config = EvaluateConfig.model_validate({
        "model": str(tiny_bundle), "sets": {"tiny": str(tiny_pairs), "stance_only": str(stance_only)},
        "output_dir": str(out), "bootstrap": 200, "breakdowns": ["source"],
    })
    evaluate(config, compare=str(tiny_bundle), show_progress=False)
    return out


def test_report_files(report):
    assert (report / "metrics.json").is_file() and (report / "report.md").is_file()
    html = (report / "report.html").read_text()
    # confusion + reliability per (set, task): stance, sentiment, relation on tiny; stance, relation on the other
    assert html.count("data:image/png;base64,") == 10
    assert "<mark>" in html


def test_task_without_labels_is_skipped(report):
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["tiny"]) == {"stance", "sentiment", "relation"}
    assert set(metrics["stance_only"]) == {"stance", "relation"}  # dyads come from the corpus-style meta


def test_relation_metrics_and_stance_derived_baseline(report):
    from training.evaluate import stance_derived_relation

    relation = json.loads((report / "metrics.json").read_text())["tiny"]["relation"]
    assert relation["n"] == 16 and set(relation["per_class"]) == {"cooperative", "adversarial", "none"}
    assert relation["baseline"]["n"] == 16
    assert relation["lift_over_baseline"] == pytest.approx(relation["macro_f1"] - relation["baseline"]["macro_f1"])
    labels = ["cooperative", "adversarial", "none"]
    assert stance_derived_relation("adversarial", "adversarial", labels) == "adversarial"
    assert stance_derived_relation("cooperative", "neutral", labels) == "none"
    assert stance_derived_relation("neutral", "neutral", labels) == "none"


def test_metrics_match_scikit_learn(report, tiny_bundle, tiny_pairs):
    metrics = json.loads((report / "metrics.json").read_text())["tiny"]
    predictor = Predictor.from_bundle(tiny_bundle)
    pairs = read_pairs(tiny_pairs, predictor.info.labels)
    probs = predictor.predict([p.model_input() for p in pairs])
    for task in probs:
        names = predictor.info.labels[task]
        rows = [i for i, p in enumerate(pairs) if p.labels[task]]
        y_true = [names.index(pairs[i].labels[task]) for i in rows]
        y_pred = probs[task][rows].argmax(axis=1)
        m = metrics[task]
        assert m["n"] == len(rows)
        assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
        assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro",
                                                       zero_division=0))
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2], zero_division=0)
        for i, name in enumerate(names):
            assert m["per_class"][name]["f1"] == pytest.approx(f[i])
            assert m["per_class"][name]["support"] == s[i]
        lo, hi = m["macro_f1_ci"]
        assert lo <= hi
        assert m["compare"]["macro_f1_diff"] == pytest.approx(0.0)  # compared with itself
        assert m["compare"]["macro_f1_diff_ci"] == pytest.approx([0.0, 0.0])
        assert "baseline" in m and 0 <= m["baseline"]["macro_f1"] <= 1
        assert sum(sum(row) for row in m["confusion_matrix"]) == len(rows)


def test_bootstrap_macro_f1_matches_scikit_learn():
    rng = np.random.default_rng(1)
    targets, predicted = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    samples = bootstrap_samples(300, 5)
    scores = bootstrap_scores(targets, predicted, 3, samples)
    for b in range(5):
        t, p = targets[samples[b]], predicted[samples[b]]
        assert scores["macro_f1"][b] == pytest.approx(f1_score(t, p, labels=[0, 1, 2], average="macro"))
        assert scores["accuracy"][b] == pytest.approx(accuracy_score(t, p))


def test_report_of_a_scored_file(tiny_bundle, documents_file, actors_dir, tmp_path):
    from inference.config import ScoreConfig
    from inference.score import score
    from training.summarise import report

    scored = tmp_path / "scored.parquet"
    score(ScoreConfig.model_validate({"model": str(tiny_bundle), "input": {"path": str(documents_file)},
                                      "output": {"path": str(scored)}, "actors": {"paths": [str(actors_dir)]},
                                      "scoring": {"relations": False}}),  # relations: see test_relations.py
          show_progress=False)
    out = report(scored, tmp_path / "rep")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 8 and summary["documents"] == 2
    assert summary["actors"]["RUS"]["rows"] == 2 and summary["actors"]["USA"]["rows"] == 2
    for entry in summary["actors"].values():
        assert sum(entry["stance_share"].values()) == pytest.approx(1.0)
    assert list(summary["periods"]) == ["2016-08"]  # only d1 has a date
    counted = sum(p["sentences"] for pairs in summary["co_mentions"].values() for p in pairs)
    assert counted <= 3 + 3 + 1  # at most every co-mentioned pair of the three sentences
    assert (out / "summary.html").read_text().count("data:image/png") == 3  # stance, sentiment, stance over time
