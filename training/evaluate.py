"""`actorstance evaluate`: a report a careful analyst can judge a model from.

For each named labelled set and each task it labels: n, accuracy, macro-F1 (with 95% bootstrap
intervals), macro-F1 over the non-neutral classes, per-class P/R/F1, confusion matrix, expected
calibration error with a reliability diagram, breakdowns by meta fields and sentence length, the
most confident errors, the TF-IDF + logistic regression baseline, and optionally a second bundle
compared with a paired bootstrap. Writes `metrics.json`, `report.md` (+ `plots/`) and a
self-contained `report.html`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import confusion_matrix

from inference.config import EvaluateConfig
from inference.io import AtomicFile, write_json
from inference.labels import RELATION, no_relation
from inference.predict import Predictor

from .baseline import baseline_from_bundle
from .calibration import ece_noise_floor
from .data import LabelledPair, derive_dyads, read_pairs
from .html import Page, highlight
from .metrics import bootstrap_samples, bootstrap_scores, interval, label_targets, task_metrics
from .plots import confusion_matrix_png, reliability_png

LENGTH_BUCKETS = ((0, 15, "<=15 words"), (16, 25, "16-25 words"), (26, 40, "26-40 words"), (41, 10**9, ">40 words"))
TOP_ERRORS = 20


def _length_bucket(pair: LabelledPair) -> str:
    words = len(pair.text.split())
    return next(name for low, high, name in LENGTH_BUCKETS if low <= words <= high)


def _group_values(pair: LabelledPair, field: str) -> list[str]:
    """Values of a breakdown field for one pair: a top-level or meta field; lists give one value each."""
    value = pair.source if field == "source" else pair.meta.get(field)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def breakdown(pairs: list[LabelledPair], rows: np.ndarray, targets: np.ndarray, probs: np.ndarray,
              labels: list[str], keys) -> dict[str, dict]:
    """Metrics per group; `keys(pair)` gives the groups a pair belongs to."""
    members: dict[str, list[int]] = defaultdict(list)
    for position, row in enumerate(rows):
        for key in keys(pairs[row]):
            members[key].append(position)
    out = {}
    for key, positions in sorted(members.items()):
        idx = np.array(positions)
        m = task_metrics(labels, targets[idx], probs[idx])
        out[key] = {"n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
    return out


def confident_errors(pairs, rows, targets, probs, labels, limit=TOP_ERRORS) -> list[dict]:
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != targets)
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]])][:limit]
    return [{
        "id": pairs[rows[i]].id, "text": pairs[rows[i]].text, "spans": [list(s) for s in pairs[rows[i]].spans],
        "actor": pairs[rows[i]].actor_text, "true": labels[targets[i]], "predicted": labels[predicted[i]],
        "confidence": float(probs[i, predicted[i]]),
    } for i in wrong]


def _samples(samples_cache: dict, n: int, config: EvaluateConfig) -> np.ndarray:
    """Bootstrap resamples of n items, drawn once per size and reused by every task and set of that size."""
    if n not in samples_cache:
        samples_cache[n] = bootstrap_samples(n, max(config.bootstrap, 1))
    return samples_cache[n]


def _scored(labels: list[str], targets: np.ndarray, p: np.ndarray, samples: np.ndarray) -> tuple[dict, dict]:
    """Metrics with ECE noise floor, bootstrap intervals and the confusion matrix, and the bootstrap scores."""
    metrics = task_metrics(labels, targets, p)
    metrics["ece_floor"] = ece_noise_floor(p)
    boot = bootstrap_scores(targets, p.argmax(axis=1), len(labels), samples)
    metrics["accuracy_ci"], metrics["macro_f1_ci"] = interval(boot["accuracy"]), interval(boot["macro_f1"])
    metrics["confusion_matrix"] = confusion_matrix(targets, p.argmax(axis=1),
                                                   labels=list(range(len(labels)))).tolist()
    return metrics, boot


def evaluate_task(pairs, task, labels, probs, config: EvaluateConfig, samples_cache: dict,
                  baseline_probs=None, other_probs=None) -> tuple[dict, dict] | None:
    """Metrics of one task on one set (None when the set does not label it) and its figures' data."""
    rows, targets = label_targets(pairs, task, labels)
    if len(rows) == 0:
        return None
    p = probs[rows]
    samples = _samples(samples_cache, len(rows), config)
    metrics, boot = _scored(labels, targets, p, samples)
    k = len(labels)
    metrics["breakdowns"] = {
        field: breakdown(pairs, rows, targets, p, labels, lambda pair, f=field: _group_values(pair, f))
        for field in config.breakdowns
    }
    metrics["breakdowns"] = {f: b for f, b in metrics["breakdowns"].items() if b}
    metrics["breakdowns"]["sentence_length"] = breakdown(pairs, rows, targets, p, labels,
                                                         lambda pair: [_length_bucket(pair)])
    metrics["top_errors"] = confident_errors(pairs, rows, targets, p, labels)
    if baseline_probs is not None and task in baseline_probs:
        b = baseline_probs[task][rows]
        b_boot = bootstrap_scores(targets, b.argmax(axis=1), k, samples)
        base = task_metrics(labels, targets, b)
        metrics["baseline"] = {"accuracy": base["accuracy"], "macro_f1": base["macro_f1"],
                               "macro_f1_ci": interval(b_boot["macro_f1"])}
        metrics["lift_over_baseline"] = metrics["macro_f1"] - base["macro_f1"]
    if other_probs is not None and task in other_probs:
        o = other_probs[task][rows]
        o_boot = bootstrap_scores(targets, o.argmax(axis=1), k, samples)
        other = task_metrics(labels, targets, o)
        metrics["compare"] = {"accuracy": other["accuracy"], "macro_f1": other["macro_f1"],
                              "macro_f1_ci": interval(o_boot["macro_f1"]), "ece": other["ece"],
                              "macro_f1_diff": metrics["macro_f1"] - other["macro_f1"],
                              "macro_f1_diff_ci": interval(boot["macro_f1"] - o_boot["macro_f1"])}
    return metrics, {"targets": targets, "probs": p}


def stance_derived_relation(source_stance: str | None, target_stance: str | None, labels: list[str]) -> str:
    """The baseline relation from two per-actor stances: shared cooperation or conflict, else none."""
    if source_stance == target_stance and source_stance != no_relation(labels) and source_stance in labels:
        return source_stance
    return no_relation(labels)


def evaluate_relations(predictor, dyads, pairs, probs, config: EvaluateConfig, samples_cache: dict):
    """Relation metrics on the set's dyads, against the baseline derived from predicted per-actor stance."""
    labels = predictor.info.labels[RELATION]
    stance_names = predictor.info.labels["stance"]
    predicted_stance = {(p.meta.get("doc_id"), p.meta.get("sentence_index"), p.meta.get("actor_id")):
                        stance_names[int(probs["stance"][i].argmax())] for i, p in enumerate(pairs)}
    rel_probs = predictor.predict_relations([d.model_input() for d in dyads])
    targets = np.array([labels.index(d.label) for d in dyads])
    metrics, _ = _scored(labels, targets, rel_probs, _samples(samples_cache, len(dyads), config))
    metrics["breakdowns"], metrics["top_errors"] = {}, []
    keyed_indices = [i for i, d in enumerate(dyads) if "source_id" in d.meta]
    if keyed_indices:
        derived = []
        for d in (dyads[i] for i in keyed_indices):
            sentence = (d.meta["doc_id"], d.meta["sentence_index"])
            source = predicted_stance.get((*sentence, d.meta["source_id"]))
            target = predicted_stance.get((*sentence, d.meta["target_id"]))
            derived.append(labels.index(stance_derived_relation(source, target, labels)))
        keyed_targets = targets[keyed_indices]
        one_hot = np.eye(len(labels))[derived]
        base = task_metrics(labels, keyed_targets, one_hot)
        metrics["baseline"] = {"name": "derived from predicted per-actor stance", "n": base["n"],
                               "accuracy": base["accuracy"], "macro_f1": base["macro_f1"],
                               "macro_f1_ci": interval(bootstrap_scores(
                                   keyed_targets, np.array(derived), len(labels),
                                   _samples(samples_cache, len(keyed_indices), config))["macro_f1"])}
        metrics["lift_over_baseline"] = metrics["macro_f1"] - base["macro_f1"]
    return metrics, {"targets": targets, "probs": rel_probs}


def evaluate(config: EvaluateConfig, compare: str | None = None, show_progress: bool = True) -> Path:
    """Evaluate `config.model` on `config.sets`; write metrics.json, report.md and report.html."""
    missing = [f"sets.{name}: {path}" for name, path in config.sets.items() if not Path(path).is_file()]
    if missing:
        from inference.errors import ConfigError

        raise ConfigError("labelled set not found: " + "; ".join(missing))
    if config.threads:
        torch.set_num_threads(config.threads)
    predictor = Predictor.from_bundle(config.model, config.batch_size)
    other = Predictor.from_bundle(compare, config.batch_size) if compare else None
    info = predictor.info
    labels = info.labels
    baseline, baseline_note = (None, "disabled in the config")
    if config.baseline:
        baseline, baseline_note = baseline_from_bundle(info.training_data, labels)

    metrics: dict = {}
    figures: dict = {}
    samples_cache: dict = {}
    sets = {name: read_pairs(path, labels) for name, path in config.sets.items()}
    for name, pairs in sets.items():
        inputs = [p.model_input() for p in pairs]
        probs = predictor.predict(inputs)
        other_probs = other.predict(inputs) if other else None
        baseline_probs = baseline.predict(pairs) if baseline else None
        metrics[name] = {}
        for task in probs:
            result = evaluate_task(pairs, task, labels[task], probs[task], config, samples_cache,
                                   baseline_probs, other_probs)
            if result is not None:
                metrics[name][task], figures[(name, task)] = result
        dyads = derive_dyads(pairs, labels[RELATION]) if predictor.has_relations else []
        if dyads:
            metrics[name][RELATION], figures[(name, RELATION)] = evaluate_relations(
                predictor, dyads, pairs, probs, config, samples_cache)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    context = {"model": config.model, "model_id": info.model_id, "compare": compare,
               "compare_id": other.info.model_id if other else None, "baseline": baseline_note,
               "sets": dict(config.sets), "bootstrap": config.bootstrap}
    images = {key: _images(key, data, labels[key[1]], metrics[key[0]][key[1]]) for key, data in figures.items()}
    _write_markdown(out, metrics, images, context)
    _write_html(out, sets, metrics, images, context)
    return out


def _images(key, data, labels, metrics) -> list[tuple[str, str, bytes]]:
    """(caption, file name, PNG) of the figures of one set and task."""
    name, task = key
    matrix = np.array(metrics["confusion_matrix"])
    return [
        (f"{name} {task}: confusion matrix", f"{name}_{task}_confusion.png",
         confusion_matrix_png(matrix, labels, f"{name} / {task}")),
        (f"{name} {task}: reliability (ECE {metrics['ece']:.3f})", f"{name}_{task}_reliability.png",
         reliability_png(data["probs"], data["targets"], f"{name} / {task}: reliability")),
    ]


def _summary_rows(metrics: dict) -> list[list]:
    rows = []
    for name, tasks in metrics.items():
        for task, m in tasks.items():
            lo, hi = m["macro_f1_ci"]
            row = [name, task, m["n"], m["accuracy"], m["macro_f1"], f"{lo:.3f}-{hi:.3f}", m["macro_f1_polar"],
                   m["ece"], m["ece_floor"]]
            row.append(m["baseline"]["macro_f1"] if "baseline" in m else "-")
            if "compare" in m:
                c = m["compare"]
                row += [c["macro_f1"], f"{c['macro_f1_diff']:+.3f} [{c['macro_f1_diff_ci'][0]:+.3f}, "
                        f"{c['macro_f1_diff_ci'][1]:+.3f}]"]
            rows.append(row)
    return rows


SUMMARY_HEADER = ["set", "task", "n", "accuracy", "macro-F1", "95% CI", "macro-F1 (non-neutral)", "ECE",
                  "ECE if perfectly calibrated", "baseline macro-F1"]
COMPARE_HEADER = ["other macro-F1", "difference [95% CI]"]


def _markdown_table(header, rows) -> list[str]:
    fmt = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in header]
    lines = ["| " + " | ".join(fmt) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v).replace("|", "\\|")
                                      for v in row) + " |")
    return lines


def _write_markdown(out: Path, metrics, images, context) -> None:
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    compare = bool(context["compare"])
    lines = [f"# Evaluation of `{context['model_id']}`", "",
             f"Bundle `{context['model']}`; baseline: TF-IDF + logistic regression, {context['baseline']}; "
             f"{context['bootstrap']} bootstrap resamples."
             + (f" Compared with `{context['compare_id']}` (difference = this model minus the other, paired "
                "bootstrap)." if compare else ""), ""]
    lines += _markdown_table(SUMMARY_HEADER + (COMPARE_HEADER if compare else []), _summary_rows(metrics))
    for name, tasks in metrics.items():
        for task, m in tasks.items():
            lines += ["", f"## {name} / {task}", ""]
            lines += _markdown_table(["class", "precision", "recall", "F1", "support"],
                                     [[c, v["precision"], v["recall"], v["f1"], v["support"]]
                                      for c, v in m["per_class"].items()])
            for caption, file_name, png in images[(name, task)]:
                (plots / file_name).write_bytes(png)
                lines += ["", f"![{caption}](plots/{file_name})"]
            for field, groups in m["breakdowns"].items():
                lines += ["", f"By {field}:", ""]
                lines += _markdown_table([field, "n", "accuracy", "macro-F1"],
                                         [[g, v["n"], v["accuracy"], v["macro_f1"]] for g, v in groups.items()])
            lines += ["", f"Most confident errors ({len(m['top_errors'])}):", ""]
            lines += _markdown_table(["true", "predicted", "confidence", "actor", "sentence"],
                                     [[e["true"], e["predicted"], e["confidence"], e["actor"], e["text"]]
                                      for e in m["top_errors"]])
    target = AtomicFile(out / "report.md")
    target.temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target.commit()


def _write_html(out: Path, sets, metrics, images, context) -> None:
    page = Page(f"Evaluation of {context['model_id']}")
    compare = bool(context["compare"])
    page.paragraph(f"Bundle {context['model']}. Baseline: TF-IDF + logistic regression, {context['baseline']}. "
                   f"Confidence intervals: {context['bootstrap']} bootstrap resamples."
                   + (f" Compared with {context['compare_id']}: difference = this model minus the other "
                      "(paired bootstrap)." if compare else ""), muted=True)
    page.heading("Summary")
    page.table(SUMMARY_HEADER + (COMPARE_HEADER if compare else []), _summary_rows(metrics))
    for name, tasks in metrics.items():
        for task, m in tasks.items():
            page.heading(f"{name} / {task}")
            page.table(["class", "precision", "recall", "F1", "support"],
                       [[c, v["precision"], v["recall"], v["f1"], v["support"]] for c, v in m["per_class"].items()])
            page.figures([(caption, png) for caption, _, png in images[(name, task)]])
            for field, groups in m["breakdowns"].items():
                page.heading(f"by {field}", level=3)
                page.table([field, "n", "accuracy", "macro-F1"],
                           [[g, v["n"], v["accuracy"], v["macro_f1"]] for g, v in groups.items()])
            page.heading(f"most confident errors ({len(m['top_errors'])})", level=3)
            page.table(["true", "predicted", "confidence", "sentence (actor highlighted)"],
                       [[e["true"], e["predicted"], e["confidence"], highlight(e["text"], e["spans"])]
                        for e in m["top_errors"]], raw_columns=(3,))
    target = AtomicFile(out / "report.html")
    target.temp.write_text(page.render(), encoding="utf-8")
    target.commit()
