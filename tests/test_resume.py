"""Sharded output: a run killed at random points and resumed ends with every input row exactly once."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from inference.config import ScoreConfig
from inference.errors import InputError
from inference.score import score

from .conftest import ROOT

TEXTS = [
    "NATO warned Moscow against any attack on Ukraine.",
    "Kerry met Lavrov in Geneva. Iran sent weapons to Syria, the Pentagon said.",
    "Syrian troops shelled rebel positions while Russian jets flew overhead.",
    "The Kremlin rejected the U.S. proposal. Daesh fighters attacked a checkpoint.",
]


def write_documents(path, n: int = 200) -> None:
    """`n` small documents; a few bad rows, and ids repeated in later chunks (so resuming must still see them)."""
    lines = [json.dumps({"id": f"d{i}", "text": f"{TEXTS[i % 4]} Day {i}.", "date": "2020"}) for i in range(n)]
    for i in range(7, n, 23):
        lines[i] = json.dumps({"id": f"d{i // 2}", "text": "Iran again."})
    lines[n // 4] = "{not json"
    lines[n // 2 - 10] = json.dumps({"id": "quiet", "text": "Nothing to see here."})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_config(path, bundle, source, out, actors) -> None:
    path.write_text(json.dumps({  # JSON is YAML
        "model": str(bundle), "input": {"path": str(source), "chunk_size": 20},
        "output": {"path": str(out), "shards": True}, "actors": {"paths": [str(actors)]},
        "scoring": {"threads": 1},
    }))


def start(config_path) -> subprocess.Popen:
    command = [sys.executable, "-c", "from training.cli import main; main()", "score", str(config_path), "--quiet"]
    return subprocess.Popen(command, cwd=ROOT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def manifest(out) -> dict:
    path = out / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {"shards": {}, "complete": False}


def done_shards(out) -> int:
    return len(manifest(out)["shards"])


def read_parts(out) -> dict[str, list[dict]]:
    """Every part file's rows, by name (scored rows, rejects, and relations where the model has that head)."""
    return {part.name: pq.read_table(part).to_pylist() if part.suffix == ".parquet"
            else [json.loads(line) for line in open(part)] for part in sorted(out.glob("part-*"))}


def test_killed_runs_resume_to_the_uninterrupted_output(tiny_bundle, actors_dir, tmp_path):
    source = tmp_path / "docs.jsonl"
    write_documents(source)
    reference, resumed = tmp_path / "reference.parquet", tmp_path / "resumed.parquet"
    write_config(tmp_path / "reference.yaml", tiny_bundle, source, reference, actors_dir)
    write_config(tmp_path / "resumed.yaml", tiny_bundle, source, resumed, actors_dir)
    reference_run = start(tmp_path / "reference.yaml")
    stderr = reference_run.communicate(timeout=120)[1].decode()
    assert reference_run.returncode == 0, stderr
    assert done_shards(reference) == 10

    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    kills_while_scoring = 0
    for attempt in range(12):
        process = start(tmp_path / "resumed.yaml")
        before = done_shards(resumed)
        target = before + (rng.randint(1, 3) if attempt else 0)  # the first run dies while starting up
        while done_shards(resumed) < target and process.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next shard, or between its part and the manifest
        if process.poll() is not None:
            assert process.returncode == 0, process.stderr.read().decode()
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = manifest(resumed)
        kills_while_scoring += len(state["shards"]) > before and not state["complete"]
        assert state["complete"] or not (tmp_path / "resumed.summary.json").exists()
    assert kills_while_scoring >= 2, f"seed {seed}: the run finished before it could be killed twice"
    assert manifest(resumed)["complete"], f"seed {seed}"

    parts = read_parts(resumed)
    assert parts == read_parts(reference), f"seed {seed}"
    rows = [row for name, part in parts.items() if name.count(".") == 1 for row in part]
    rejects = [row for name, part in parts.items() if name.endswith(".rejects.jsonl") for row in part]
    keys = [(r["doc_id"], r["sentence_index"], r["actor_id"]) for r in rows]
    assert len(keys) == len(set(keys))
    first_row = {}
    for number, line in enumerate(open(source), 1):
        if line.startswith("{\""):
            first_row.setdefault(json.loads(line)["id"], number)
    scored_rows = [first_row[doc_id] for doc_id in dict.fromkeys(r["doc_id"] for r in rows)]
    assert sorted(scored_rows + [r["row_number"] for r in rejects]) == list(range(1, 201))  # each row exactly once
    summary = json.loads((tmp_path / "resumed.summary.json").read_text())
    expected = json.loads((tmp_path / "reference.summary.json").read_text())
    for key in ("rows_read", "rows_scored", "rows_rejected", "rejected_by_reason", "sentences", "pairs"):
        assert summary[key] == expected[key]
    assert summary["rows_read"] == 200 and summary["rejected_by_reason"] == {"bad_json": 1, "duplicate_id": 9,
                                                                              "no_actor": 1}


def config(bundle, source, out, actors, **scoring) -> ScoreConfig:
    return ScoreConfig.model_validate({
        "model": str(bundle), "input": {"path": str(source), "chunk_size": 20},
        "output": {"path": str(out), "shards": True}, "actors": {"paths": [str(actors)]}, "scoring": scoring,
    })


def test_another_input_model_or_config_is_refused_unless_overwrite(tiny_bundle, actors_dir, tmp_path):
    source = tmp_path / "docs.jsonl"
    write_documents(source, 40)
    out = tmp_path / "scored.jsonl"
    first = score(config(tiny_bundle, source, out, actors_dir), show_progress=False)
    assert {"manifest.json", "part-00000.jsonl", "part-00000.rejects.jsonl", "part-00001.jsonl",
            "part-00001.rejects.jsonl"} <= {p.name for p in out.iterdir()}
    assert score(config(tiny_bundle, source, out, actors_dir, batch_size=3), show_progress=False).pairs == first.pairs

    changed = config(tiny_bundle, source, out, actors_dir)
    changed.segmentation.max_sentence_chars = 60
    with pytest.raises(InputError, match=r"another run \(config_hash changed\).*--overwrite"):
        score(changed, show_progress=False)
    for key, value in (("precision", "bf16"), ("max_dyads_per_sentence", 1)):  # both change what shards hold
        changed = config(tiny_bundle, source, out, actors_dir)
        setattr(changed.scoring, key, value)
        with pytest.raises(InputError, match=r"config_hash changed"):
            score(changed, show_progress=False)
    model = json.loads((tiny_bundle / "model.json").read_text())
    other_bundle = tmp_path / "other"
    other_bundle.mkdir()
    for path in tiny_bundle.iterdir():
        if path.name != "model.json":
            (other_bundle / path.name).symlink_to(path)
    (other_bundle / "model.json").write_text(json.dumps({**model, "model_id": "other-1"}))
    with pytest.raises(InputError, match=r"\(model_id changed\)"):
        score(config(other_bundle, source, out, actors_dir), show_progress=False)
    write_documents(source, 30)
    with pytest.raises(InputError, match=r"\(input changed\)"):
        score(config(tiny_bundle, source, out, actors_dir), show_progress=False)

    again = score(config(tiny_bundle, source, out, actors_dir), show_progress=False, overwrite=True)
    assert again.rows_read == 30 and sorted(p.name for p in out.glob("part-?????.jsonl")) == [
        "part-00000.jsonl", "part-00001.jsonl"
    ]
    assert json.loads((out / "manifest.json").read_text())["totals"]["rows_read"] == 30
