"""Directed relations: the dyad encoding, the relations table, its bound per sentence, and its report."""

import json

from inference.config import ScoreConfig
from inference.encoding import mark_dyad
from inference.score import score
from training.summarise import report


def config(bundle, documents, out, actors, **scoring):
    return ScoreConfig.model_validate({"model": str(bundle), "input": {"path": str(documents)},
                                       "output": {"path": str(out)}, "actors": {"paths": [str(actors)]},
                                       "scoring": scoring})


def test_mark_dyad_golden():
    text = "Turkey sent tanks to help US-backed rebels drive Islamic State out."
    assert mark_dyad(text, [(0, 6)], [(26, 28)]) == \
        "<src>Turkey</src> sent tanks to help <tgt>US</tgt>-backed rebels drive Islamic State out."


def test_relations_table(tiny_bundle, documents_file, actors_dir, tmp_path):
    out = tmp_path / "scored.jsonl"
    summary = score(config(tiny_bundle, documents_file, out, actors_dir), show_progress=False)
    relations = [json.loads(line) for line in open(tmp_path / "scored.relations.jsonl")]
    rows = [json.loads(line) for line in open(out)]
    actors = {}
    for row in rows:
        actors.setdefault((row["doc_id"], row["sentence_index"]), set()).add(row["actor_id"])
    expected = {(doc, index, a, b) for (doc, index), ids in actors.items() for a in ids for b in ids if a != b}
    assert {(r["doc_id"], r["sentence_index"], r["source_id"], r["target_id"]) for r in relations} == expected
    assert summary.dyads == len(expected) == 14 and summary.dyads_skipped == 0
    for row in relations:
        assert row["relation"] in ("cooperative", "adversarial", "none")
        assert abs(sum(row["relation_probs"].values()) - 1) < 1e-5 and row["model_id"] == rows[0]["model_id"]


def test_dyads_per_sentence_are_bounded_and_can_be_turned_off(tiny_bundle, documents_file, actors_dir, tmp_path):
    summary = score(config(tiny_bundle, documents_file, tmp_path / "a.jsonl", actors_dir, max_dyads_per_sentence=2),
                    show_progress=False)
    assert summary.dyads == 6 and summary.dyads_skipped == 8  # 3 sentences with 2 + 6 + 6 ordered pairs
    score(config(tiny_bundle, documents_file, tmp_path / "b.jsonl", actors_dir, relations=False), show_progress=False)
    assert not (tmp_path / "b.relations.jsonl").exists()


def test_report_has_net_cooperation_heatmap_and_dyad_series(tiny_bundle, documents_file, actors_dir, tmp_path):
    out = tmp_path / "scored.jsonl"
    score(config(tiny_bundle, documents_file, out, actors_dir), show_progress=False)
    summary = json.loads((report(out, tmp_path / "rep", dyads=[("RUS", "USA")]) / "summary.json").read_text())
    relations = summary["relations"]
    assert list(relations["series"]) == ["RUS->USA"]
    n = len(relations["actors"])
    assert len(relations["net_cooperation"]) == n and all(len(row) == n for row in relations["net_cooperation"])
