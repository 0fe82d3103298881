"""End-to-end scoring of small document files with the tiny bundle."""

import csv
import json

import pyarrow.parquet as pq
import pytest

from inference.config import ScoreConfig
from inference.errors import InputError
from inference.score import score


def config(bundle, input_path, output_path, actors, **input_extra):
    return ScoreConfig.model_validate({
        "model": str(bundle), "input": {"path": str(input_path), **input_extra},
        "output": {"path": str(output_path)}, "actors": {"paths": [str(actors)]},
    })


def read_jsonl(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_scores_documents_into_rows(tiny_bundle, documents_file, actors_dir, tmp_path):
    out = tmp_path / "scored.jsonl"
    summary = score(config(tiny_bundle, documents_file, out, actors_dir), show_progress=False)
    rows = read_jsonl(out)
    assert {(r["doc_id"], r["sentence_index"], r["actor_id"]) for r in rows} == {
        ("d1", 0, "RUS"), ("d1", 0, "USA"), ("d1", 1, "IRN"), ("d1", 1, "SYR"), ("d1", 1, "USA"),
        ("d2", 0, "NATO"), ("d2", 0, "RUS"), ("d2", 0, "UKR"),
    }
    rus = next(r for r in rows if r["doc_id"] == "d1" and r["actor_id"] == "RUS")
    assert [m["text"] for m in rus["mentions"]] == ["Russian Foreign Minister Sergey Lavrov"]
    assert rus["sentence"] == "Russian Foreign Minister Sergey Lavrov met John Kerry in Geneva."
    assert rus["date"] == "2016-08-26" and rus["actor_name"] == "Russia"
    text = json.loads(documents_file.read_text().splitlines()[0])["text"]
    for row in rows:
        for mention in row["mentions"]:
            if row["doc_id"] == "d1":
                assert text[mention["start"] : mention["end"]] == mention["text"]
        assert row["stance"] in ("cooperative", "adversarial", "neutral")
        assert row["sentiment"] in ("positive", "neutral", "negative")
        assert abs(sum(row["stance_probs"].values()) - 1) < 1e-5
        assert abs(sum(row["sentiment_probs"].values()) - 1) < 1e-5
        assert row["stance"] == max(row["stance_probs"], key=row["stance_probs"].get)
    assert summary.rows_read == 2 and summary.rows_scored == 2 and summary.pairs == 8
    assert json.loads((tmp_path / "scored.summary.json").read_text())["pairs"] == 8


def test_bad_rows_go_to_rejects_with_reasons(tiny_bundle, actors_dir, tmp_path):
    lines = [
        json.dumps({"id": "ok", "text": "Iran threatened Syria."}),
        "{not json",
        json.dumps({"text": "Iran threatened Syria."}),
        json.dumps({"id": "ok", "text": "Iran again."}),
        json.dumps({"id": "e", "text": "   "}),
        json.dumps({"id": "n", "text": 42}),
        json.dumps({"id": "m"}),
        json.dumps({"id": "none", "text": "Nothing to see here."}),
        json.dumps([1, 2]),
    ]
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    summary = score(config(tiny_bundle, source, tmp_path / "out.jsonl", actors_dir), show_progress=False)
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [r["reason"] for r in rejects] == [
        "bad_json", "missing_id", "duplicate_id", "empty_text", "non_string_text", "missing_text", "no_actor",
        "not_an_object",
    ]
    assert rejects[0]["row"] == "{not json" and rejects[0]["row_number"] == 2
    assert summary.rows_read == 9 == summary.rows_scored + summary.rows_rejected
    assert summary.rows_scored == 1


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_output_formats(tiny_bundle, documents_file, actors_dir, tmp_path, suffix):
    out = tmp_path / f"scored.{suffix}"
    score(config(tiny_bundle, documents_file, out, actors_dir), show_progress=False)
    expected = read_jsonl(_jsonl_twin(tiny_bundle, documents_file, actors_dir, tmp_path))
    if suffix == "parquet":
        rows = pq.read_table(out).to_pylist()
        assert rows[0]["mentions"] == expected[0]["mentions"]
    else:
        rows = list(csv.DictReader(open(out, encoding="utf-8")))
        assert json.loads(rows[0]["stance_probs"]) == pytest.approx(expected[0]["stance_probs"])
    assert [r["actor_id"] for r in rows] == [r["actor_id"] for r in expected]


def _jsonl_twin(bundle, documents_file, actors_dir, tmp_path):
    out = tmp_path / "twin.jsonl"
    score(config(bundle, documents_file, out, actors_dir), show_progress=False)
    return out


def test_csv_and_parquet_input(tiny_bundle, actors_dir, tmp_path):
    import pyarrow as pa

    docs = [{"id": "a", "text": "NATO warned Moscow."}, {"id": "b", "text": "Kerry met Lavrov."}]
    pq.write_table(pa.Table.from_pylist(docs), tmp_path / "docs.parquet")
    with open(tmp_path / "docs.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "text"])
        writer.writeheader()
        writer.writerows(docs)
    for name in ("docs.parquet", "docs.csv"):
        out = tmp_path / f"{name}.jsonl"
        summary = score(config(tiny_bundle, tmp_path / name, out, actors_dir), show_progress=False)
        assert summary.rows_scored == 2 and summary.pairs == 4


def test_pre_annotated_pairs(tiny_bundle, tiny_pairs, actors_dir, tmp_path):
    out = tmp_path / "pairs.jsonl"
    summary = score(config(tiny_bundle, tiny_pairs, out, actors_dir, kind="pairs"), show_progress=False)
    rows = read_jsonl(out)
    assert summary.rows_scored == len(rows) == len(tiny_pairs.read_text().splitlines())
    assert rows[0]["mentions"] == [{"text": "Russia", "start": 0, "end": 6}]


def test_unusable_input(tiny_bundle, actors_dir, tmp_path):
    with pytest.raises(InputError, match="file not found"):
        score(config(tiny_bundle, tmp_path / "missing.jsonl", tmp_path / "o.jsonl", actors_dir))
    (tmp_path / "docs.txt").write_text("hello")
    with pytest.raises(InputError, match="cannot tell the format"):
        score(config(tiny_bundle, tmp_path / "docs.txt", tmp_path / "o.jsonl", actors_dir))
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="has no rows"):
        score(config(tiny_bundle, tmp_path / "empty.jsonl", tmp_path / "o.jsonl", actors_dir), show_progress=False)
    assert not (tmp_path / "o.jsonl").exists()
