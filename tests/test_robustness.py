"""Dirty input, faults and untrusted files: every row ends up scored or rejected with a reason."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.actors import Actor, ActorDictionary
from inference.config import ScoreConfig
from inference.io import read_rows
from inference.score import score
from inference.segment import split_sentences

from .conftest import ROOT

VALID_TEXTS = [
    "NATO warned Moscow against any attack on Ukraine.",
    "Kerry met Lavrov in Geneva. Iran sent weapons to Syria, the Pentagon said.",
    "The Kremlin rejected the U.S. proposal.\u200b Daesh fighters attacked a checkpoint.",
    "Syrian troops shelled rebel positions while Russian jets flew overhead.",
]


def bad_rows(rng: random.Random, seen_ids: list[str]) -> tuple[str, str]:
    """One bad JSONL line of a random kind, with the reason code it must get."""
    kind = rng.choice(["bad_json", "missing_id", "duplicate_id", "missing_text", "empty_text", "non_string_text",
                       "invalid_utf8", "not_an_object", "no_actor"])
    if kind == "bad_json":
        return '{"id": "x", "text": "unterminated', kind
    if kind == "missing_id":
        return json.dumps({"text": "Iran met Syria."}), kind
    if kind == "duplicate_id":
        return json.dumps({"id": rng.choice(seen_ids), "text": "Iran met Syria."}), kind
    if kind == "missing_text":
        return json.dumps({"id": f"m{rng.random()}"}), kind
    if kind == "empty_text":
        return json.dumps({"id": f"e{rng.random()}", "text": " \n\t "}), kind
    if kind == "non_string_text":
        return json.dumps({"id": f"n{rng.random()}", "text": {"nested": 1}}), kind
    if kind == "invalid_utf8":
        return "INVALID_UTF8", kind
    if kind == "not_an_object":
        return json.dumps(["Iran", "Syria"]), kind
    return json.dumps({"id": f"q{rng.random()}", "text": "مرحبا بالعالم. Nothing here\x07 at all."}), kind


def write_mixed(path, clean_path, n: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    expected: dict[str, int] = {}
    seen: list[str] = []
    with open(path, "wb") as mixed, open(clean_path, "w", encoding="utf-8") as clean:
        for i in range(n):
            if not seen or rng.random() < 0.5:
                doc_id = f"doc{i}"
                text = rng.choice(VALID_TEXTS)
                if rng.random() < 0.1:
                    text = "\u202eRTL \x01control " + text
                line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False)
                seen.append(doc_id)
                clean.write(line + "\n")
                mixed.write(line.encode() + b"\n")
            else:
                line, kind = bad_rows(rng, seen)
                expected[kind] = expected.get(kind, 0) + 1
                raw = b'{"id": "u", "text": "\xff\xfe bad"}' if line == "INVALID_UTF8" else line.encode()
                mixed.write(raw + b"\n")
    return expected


def config(bundle, source, out, actors) -> ScoreConfig:
    # fp32: the mixed and clean runs batch the same pairs differently, which moves bf16 results by ~1e-3
    return ScoreConfig.model_validate({"model": str(bundle), "input": {"path": str(source), "chunk_size": 700},
                                       "output": {"path": str(out)}, "actors": {"paths": [str(actors)]},
                                       "scoring": {"precision": "fp32"}})


def test_ten_thousand_mixed_rows(tiny_bundle, actors_dir, tmp_path):
    expected = write_mixed(tmp_path / "mixed.jsonl", tmp_path / "clean.jsonl", 10_000)
    summary = score(config(tiny_bundle, tmp_path / "mixed.jsonl", tmp_path / "mixed_out.jsonl", actors_dir),
                    show_progress=False)
    assert summary.rows_read == 10_000 == summary.rows_scored + summary.rows_rejected
    assert dict(summary.rejected_by_reason) == expected
    rejects = [json.loads(line) for line in open(tmp_path / "mixed_out.rejects.jsonl")]
    assert len(rejects) == summary.rows_rejected and all(r["reason"] and r["message"] for r in rejects)
    clean = score(config(tiny_bundle, tmp_path / "clean.jsonl", tmp_path / "clean_out.jsonl", actors_dir),
                  show_progress=False)
    assert clean.rows_rejected == 0 and clean.rows_scored == summary.rows_scored
    mixed_rows = [json.loads(line) for line in open(tmp_path / "mixed_out.jsonl")]
    clean_rows = [json.loads(line) for line in open(tmp_path / "clean_out.jsonl")]
    assert len(mixed_rows) == len(clean_rows)
    for got, want in zip(mixed_rows, clean_rows, strict=True):
        # batches are composed differently, so padding may move probabilities in the last float digits
        for task in ("stance", "sentiment"):
            got_probs, want_probs = got.pop(f"{task}_probs"), want.pop(f"{task}_probs")
            assert got_probs == pytest.approx(want_probs, abs=1e-5)
            top_two = sorted(want_probs.values())[-2:]
            if top_two[1] - top_two[0] < 1e-4:  # a near-tie of the untrained tiny model may flip either way
                got.pop(task), want.pop(task)
        assert got == want


def test_csv_rows_with_missing_and_extra_columns(tiny_bundle, actors_dir, tmp_path):
    source = tmp_path / "docs.csv"
    source.write_text('id,text\na,NATO warned Moscow.\nb\nc,Iran met Syria.,extra\n'
                      '"d","Kerry, in Geneva, met Lavrov."\n')
    summary = score(config(tiny_bundle, source, tmp_path / "o.jsonl", actors_dir), show_progress=False)
    assert dict(summary.rejected_by_reason) == {"missing_columns": 1, "extra_columns": 1}
    assert summary.rows_scored == 2


def test_huge_document_and_huge_sentence(tiny_bundle, actors_dir, tmp_path):
    filler = ["The talks went on for hours, officials said."] * 999 + ["Iran and Syria held talks in Damascus."]
    big = " ".join(filler * 44)  # ~2 MB, 44 sentences with actors
    long_sentence = "NATO " + " ".join(["words"] * 5000) + " Moscow."
    source = tmp_path / "big.jsonl"
    source.write_text(json.dumps({"id": "big", "text": big}) + "\n" + json.dumps({"id": "long", "text": long_sentence})
                      + "\n")
    summary = score(config(tiny_bundle, source, tmp_path / "o.jsonl", actors_dir), show_progress=False)
    assert summary.rows_scored == 2 and summary.pairs == 44 * 2 + 2
    rows = [json.loads(line) for line in open(tmp_path / "o.jsonl")]
    assert {r["actor_id"] for r in rows if r["doc_id"] == "long"} == {"NATO", "RUS"}


def test_wrong_format_files(tiny_bundle, actors_dir, tmp_path):
    from inference.errors import InputError

    fake = tmp_path / "docs.parquet"
    fake.write_text('{"id": 1, "text": "not parquet"}\n')
    with pytest.raises(InputError, match="not a readable Parquet file"):
        score(config(tiny_bundle, fake, tmp_path / "o.jsonl", actors_dir), show_progress=False)
    binary = tmp_path / "docs.jsonl"
    binary.write_bytes(bytes(range(256)) * 40)
    summary = score(config(tiny_bundle, binary, tmp_path / "o.jsonl", actors_dir), show_progress=False)
    assert summary.rows_scored == 0 and summary.rows_read == summary.rows_rejected > 0


# ---------------------------------------------------------------- property-based: offsets and readers

names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aliases=st.lists(names, min_size=1, max_size=8), filler=st.lists(names, max_size=10), data=st.data())
def test_mentions_always_point_into_the_text(aliases, filler, data):
    dictionary = ActorDictionary()
    for i, alias in enumerate(aliases):
        if alias.strip() and alias.strip() not in dictionary.aliases:
            dictionary.add_actor(Actor(f"A{i}", f"Actor {i}", "state"), [alias])
    pieces = filler + [data.draw(st.sampled_from(aliases)) for _ in range(3)]
    text = " ".join(data.draw(st.permutations(pieces)))
    mentions = dictionary.find(text)
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.text
    assert all(a.end <= b.start for a, b in zip(mentions, mentions[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400))
def test_segmenter_offsets_fuzz(text):
    for sentence in split_sentences(text, max_chars=80):
        assert text[sentence.start : sentence.end] == sentence.text and sentence.text.strip()
        assert len(sentence.text) <= 80


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_jsonl_reader_fuzz(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    rows = list(read_rows(path))
    assert all((row.record is None) == (row.error is not None) for row in rows)
    assert len(rows) == sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_csv_reader_fuzz(tmp_path, body):
    path = tmp_path / "fuzz.csv"
    path.write_text("id,text\n" + body, encoding="utf-8")
    for row in read_rows(path):
        assert (row.record is None) == (row.error is not None)


# ---------------------------------------------------------------- untrusted files and faults


def _timed_find(dictionary, text, repeat=3) -> float:
    dictionary.find("warm up")
    start = time.perf_counter()
    for _ in range(repeat):
        dictionary.find(text)
    return time.perf_counter() - start


def test_huge_and_pathological_dictionary_is_matched_in_bounded_time(actors_dir):
    rng = random.Random(0)
    text = " ".join(rng.choice(["Iran", "met", "aaaa", "a", "Syria", "in", "talks", "aaaaaaaa"]) for _ in range(20_000))
    normal = ActorDictionary.from_paths([actors_dir])
    aliases = {"a" * k for k in range(1, 201)}  # every prefix of a run of a's matches everywhere in "aaaa..."
    while len(aliases) < 100_000:
        aliases.add("".join(rng.choice("abcdefgh") for _ in range(rng.randint(3, 12))))
    huge = ActorDictionary()
    for i, alias in enumerate(sorted(aliases)):
        huge.add_actor(Actor(f"X{i}", f"x{i}", "other"), [alias])
    ratio = _timed_find(huge, text) / _timed_find(normal, text)
    assert ratio < 25, f"100,000 pathological aliases cost {ratio:.1f}x a normal dictionary"


def test_killed_writer_leaves_no_complete_looking_file(tmp_path):
    target = tmp_path / "out.jsonl"
    script = (
        "import sys, time\nsys.path.insert(0, sys.argv[2])\nfrom inference.io import RowWriter\n"
        "with RowWriter(sys.argv[1]) as w:\n    for i in range(10**7):\n        w.write([{'i': i}])\n"
        "        if i == 1000: print('writing', flush=True)\n        time.sleep(0.0001)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(target), str(ROOT)], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"writing"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not target.exists()
    assert (tmp_path / "out.jsonl.partial").exists()


def test_bundle_loading_never_unpickles(tiny_bundle):
    source = (ROOT / "inference/model.py").read_text() + (ROOT / "inference/bundle.py").read_text()
    assert "torch.load(" not in source and "import pickle" not in source and "trust_remote_code" not in source
    assert (tiny_bundle / "model.safetensors").is_file() and not list(tiny_bundle.glob("*.bin"))
