"""The Ray engine scores like the local one: same rows, rejects and counts. Ray runs locally on 2 CPUs."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray

from inference.config import ScoreConfig
from inference.score import score

TEXTS = [
    "NATO warned Moscow against any attack on Ukraine.",
    "Kerry met Lavrov in Geneva. Iran sent weapons to Syria, the Pentagon said.",
    "Syrian troops shelled rebel positions while Russian jets flew overhead.",
]


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def mixed_lines() -> list[bytes]:
    """Good documents with every kind of bad row between them, and an id repeated several chunks later."""
    lines = [json.dumps({"id": f"d{i}", "text": TEXTS[i % 3], "date": f"2020-01-{i + 1:02d}"}).encode()
             for i in range(30)]
    lines[2] = b"{not json"
    lines[5] = b'{"id": "u", "text": "\xff\xfe not UTF-8"}'
    lines[8] = b""  # a blank line: skipped, but it still counts in later row numbers
    lines[11] = json.dumps({"id": "d1", "text": "Iran again."}).encode()  # d1 is in the first chunk
    lines[14] = json.dumps({"id": "x", "text": "   "}).encode()
    lines[17] = json.dumps({"id": "x", "text": "Iran threatened Syria."}).encode()  # first valid x: not a duplicate
    lines[20] = json.dumps({"id": "none", "text": "Nothing to see here."}).encode()
    lines[23] = json.dumps([1, 2]).encode()
    lines[26] = json.dumps({"id": "none", "text": "Iran again."}).encode()  # a no_actor row's id counts as seen
    return lines


def config(bundle, source, out, actors, engine, **output) -> ScoreConfig:
    return ScoreConfig.model_validate({
        "model": str(bundle), "input": {"path": str(source), "chunk_size": 7},
        "output": {"path": str(out), **output}, "actors": {"paths": [str(actors)]},
        "scoring": {"engine": engine, "ray": {"concurrency": 2, "batch_size": 4, "num_cpus": 1}},
    })


def assert_same_rows(got: list[dict], want: list[dict]) -> None:
    assert [(r["doc_id"], r["sentence_index"], r["actor_id"]) for r in got] == [
        (r["doc_id"], r["sentence_index"], r["actor_id"]) for r in want
    ]
    for mine, theirs in zip(got, want, strict=True):
        mine, theirs = dict(mine), dict(theirs)
        for task in ("stance", "sentiment"):
            probs = theirs.pop(f"{task}_probs")
            assert mine.pop(f"{task}_probs") == pytest.approx(probs, abs=1e-5)
            top_two = sorted(probs.values())[-2:]
            if top_two[1] - top_two[0] < 1e-4:  # other batches pad differently: a near-tie may flip
                mine.pop(task), theirs.pop(task)
        assert mine == theirs


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def counts(summary) -> dict:
    data = summary.to_dict()
    return {key: data[key] for key in ("rows_read", "rows_scored", "rows_rejected", "rejected_by_reason",
                                       "sentences", "pairs", "model_id")}


def test_ray_engine_equals_local_engine(tiny_bundle, actors_dir, tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_bytes(b"\n".join(mixed_lines()) + b"\n")
    local = score(config(tiny_bundle, source, tmp_path / "local.jsonl", actors_dir, "local"), show_progress=False)
    remote = score(config(tiny_bundle, source, tmp_path / "ray.jsonl", actors_dir, "ray"), show_progress=False)
    assert counts(remote) == counts(local)
    assert remote.rows_read == 29 == remote.rows_scored + remote.rows_rejected
    assert dict(remote.rejected_by_reason) == {"bad_json": 1, "invalid_utf8": 1, "duplicate_id": 2, "empty_text": 1,
                                               "no_actor": 1, "not_an_object": 1}
    assert read_jsonl(tmp_path / "ray.rejects.jsonl") == read_jsonl(tmp_path / "local.rejects.jsonl")
    assert_same_rows(read_jsonl(tmp_path / "ray.jsonl"), read_jsonl(tmp_path / "local.jsonl"))
    assert json.loads((tmp_path / "ray.summary.json").read_text())["rows_read"] == 29


def test_ray_engine_writes_resumable_shards(tiny_bundle, actors_dir, tmp_path):
    documents = [{"id": f"p{i}", "text": TEXTS[i % 3], "date": None} for i in range(18)] + [{"id": "p0", "text": "x"}]
    source = tmp_path / "docs.parquet"
    pq.write_table(pa.Table.from_pylist(documents), source)
    out = tmp_path / "scored.parquet"
    first = score(config(tiny_bundle, source, out, actors_dir, "ray", shards=True), show_progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["rows_per_shard"] == 4 and len(manifest["shards"]) == 5
    assert sorted(p.name for p in out.glob("part-?????.parquet")) == [f"part-0000{i}.parquet" for i in range(5)]

    local = score(config(tiny_bundle, source, tmp_path / "local.jsonl", actors_dir, "local"), show_progress=False)
    assert counts(first) == counts(local) and dict(first.rejected_by_reason) == {"duplicate_id": 1}
    rows = pq.read_table(sorted(out.glob("part-?????.parquet"))).to_pylist()
    assert_same_rows(rows, read_jsonl(tmp_path / "local.jsonl"))

    del manifest["shards"]["00002"]  # as if the run had been killed while writing shard 2
    manifest["complete"] = False
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    again = score(config(tiny_bundle, source, out, actors_dir, "ray", shards=True), show_progress=False)
    redone = {p.name for p in out.glob("part-*") if p.stat().st_mtime_ns != before[p.name]}
    assert {"part-00002.parquet", "part-00002.rejects.jsonl"} <= redone
    assert {name.split(".")[0] for name in redone} == {"part-00002"}
    assert counts(again) == counts(first)
