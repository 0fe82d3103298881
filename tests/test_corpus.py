"""Corpus building and `actorstance data check`, on small files and on the shipped corpus."""

import json

import pytest

from inference.errors import DataError
from training.corpus import build, check, locate_mentions

from .conftest import ROOT

DOC = {
    "doc_id": "t-001", "date": "2016-08-25", "topic": "test",
    "sentences": [
        {"text": "Russian Foreign Minister Sergey Lavrov met US Secretary of State John Kerry in Geneva on Friday.",
         "actors": [
             {"id": "RUS", "mentions": ["Russian Foreign Minister Sergey Lavrov"], "stance": "cooperative",
              "sentiment": "neutral", "hard": []},
             {"id": "USA", "mentions": ["US Secretary of State John Kerry"], "stance": "cooperative",
              "sentiment": "neutral", "hard": []}],
         "relations": [{"source": "RUS", "target": "USA", "relation": "cooperative"}]},
        {"text": "Moscow accused Washington of arming the rebels, and Russia said it would respond.",
         "actors": [
             {"id": "RUS", "mentions": ["Moscow", "Russia"], "stance": "adversarial", "sentiment": "neutral",
              "hard": ["metonymy", "attribution"]},
             {"id": "USA", "mentions": ["Washington"], "stance": "adversarial", "sentiment": "negative",
              "hard": ["metonymy"]}]},
    ],
}


def test_locate_mentions_longest_first():
    text = "Syrian Kurdish forces fought Syrian troops."
    actors = [{"id": "SDF", "mentions": ["Syrian Kurdish forces"]}, {"id": "SYR", "mentions": ["Syrian troops"]}]
    assert locate_mentions(text, actors, "t") == {"SDF": [(0, 21)], "SYR": [(29, 42)]}
    with pytest.raises(DataError, match="not in the sentence"):
        locate_mentions(text, [{"id": "X", "mentions": ["Iraq"]}], "t")


def test_build_writes_pairs_with_offsets(tmp_path, actors_dir):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "t.jsonl").write_text(json.dumps(DOC) + "\n")
    (raw / "second").mkdir()
    (raw / "second" / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"doc_id": "t-001", "sentence_index": 0, "actor_id": "RUS", "stance": "cooperative", "sentiment": "neutral"},
        {"doc_id": "t-001", "sentence_index": 1, "actor_id": "USA", "stance": "adversarial", "sentiment": "neutral"},
    ]))
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "adjudication.jsonl").write_text(json.dumps(
        {"doc_id": "t-001", "sentence_index": 1, "actor_id": "USA", "task": "sentiment", "first": "negative",
         "second": "neutral", "final": "neutral", "rule": "2"}) + "\n")
    counts = build(raw, out, [str(actors_dir)])
    assert sum(c["pairs"] for c in counts.values()) == 4
    rows = [json.loads(line) for split in ("train", "dev", "test") for line in open(out / f"{split}.jsonl")]
    rus = next(r for r in rows if r["meta"]["actor_id"] == "RUS" and r["meta"]["sentence_index"] == 1)
    assert rus["actor"] == {"text": "Moscow", "start": 0, "end": 6}
    assert rus["meta"]["mentions"] == [{"text": "Russia", "start": 52, "end": 58}]
    assert rus["meta"]["hard_cases"] == ["attribution", "metonymy"] and rus["meta"]["actor_type"] == "state"
    usa = next(r for r in rows if r["meta"]["actor_id"] == "USA" and r["meta"]["sentence_index"] == 1)
    assert usa["sentiment"] == "neutral"  # the adjudicated label
    agreement = json.loads((out / "agreement.json").read_text())
    assert agreement["sentiment"] == {"n": 2, "agreement": 0.5, "cohen_kappa": pytest.approx(0.0),
                                      "disagreements": 1}
    assert agreement["adjudicated_labels_changed"] == 1
    documents = [json.loads(line) for s in ("train", "dev", "test") for line in open(out / "documents" / f"{s}.jsonl")]
    assert documents[0]["text"].startswith("Russian Foreign Minister") and documents[0]["id"] == "t-001"


def test_check_finds_problems(tmp_path, actors_dir, tiny_pairs):
    good = [json.loads(line) for line in tiny_pairs.read_text().splitlines()]
    bad = dict(good[0], actor={"text": "Moscow", "start": 0, "end": 6})
    unknown = dict(good[1], meta={"actor_id": "ATLANTIS"})
    wrong_label = dict(good[2], stance="hostile")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in [bad, unknown, wrong_label, good[3]]))
    near_copy = dict(good[3], text=good[3]["text"].replace(".", "!"), id="copy")
    second.write_text(json.dumps(near_copy) + "\n")
    report = check([str(first), str(second)], [str(actors_dir)])
    text = "\n".join(report.errors)
    assert not report.ok
    assert "is 'Russia' but the mention says 'Moscow'" in text
    assert "'ATLANTIS' is not in the actor dictionary" in text
    assert "stance label 'hostile' is not one of" in text
    assert "near-duplicate sentences across" in text


def test_check_passes_on_clean_file(actors_dir, tiny_pairs, tmp_path):
    clean = tmp_path / "clean.jsonl"  # the tiny pairs' actor ids are not in the small test dictionary
    clean.write_text("".join(json.dumps({**json.loads(line), "meta": {}}) + "\n"
                             for line in tiny_pairs.read_text().splitlines()))
    report = check([str(clean)], [str(actors_dir)])
    assert report.ok, report.render()
    assert "tiny" not in report.render() or "OK" in report.render()


def test_shipped_corpus_passes_data_check():
    report = check([str(ROOT / "data/corpus")], [str(ROOT / "configs/actors")])
    assert report.ok, report.render()
