"""ONNX backends with the tiny bundle: export, parity with torch, int8, no torch at scoring time, damaged files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.bundle import read_model_info
from inference.config import ScoreConfig
from inference.encoding import DyadInput, EncodingSettings, PairInput, encode_pairs
from inference.errors import BundleError
from inference.onnx_backend import EXPORT_JSON, FP32_FILE, INT8_FILE, ONNX_DIR, BundleTokenizer, OnnxPredictor
from inference.openvino_backend import OPENVINO_FILE, OpenVinoPredictor
from inference.score import score

ROOT = Path(__file__).resolve().parents[1]
LONG = " ".join(["The talks dragged on for hours without result."] * 12) + " Iran walked out, and Iran blamed Israel."
PAIRS = [
    PairInput("Russia and Ukraine signed a grain export deal in Istanbul.", ((0, 6),)),
    PairInput("NATO warned Moscow against any attack on Ukraine.", ((0, 4),), "organisation"),
    PairInput(LONG, ((LONG.index("Iran"), LONG.index("Iran") + 4), (LONG.rindex("Iran"), LONG.rindex("Iran") + 4))),
    PairInput("Iran", ((0, 4),)),
] * 3  # longer than max_length (windowed), two mentions, a one-word sentence; repeated across batches
DYADS = [
    DyadInput("Russia and Ukraine signed a grain export deal in Istanbul.", ((0, 6),), ((11, 18),)),
    DyadInput("Russia and Ukraine signed a grain export deal in Istanbul.", ((11, 18),), ((0, 6),)),
    DyadInput("NATO warned Moscow against any attack on Ukraine.", ((0, 4),), ((12, 18),)),
] * 3


def corpus_pairs() -> list[PairInput]:
    """Sentences of the shipped corpus when it is built, else the tiny test pairs."""
    paths = [path for split in ("train", "dev", "test") if (path := ROOT / f"data/corpus/{split}.jsonl").is_file()]
    paths = paths or [ROOT / "tests/resources/pairs.jsonl"]
    records = [json.loads(line) for path in paths for line in open(path, encoding="utf-8") if line.strip()]
    return [PairInput(r["text"], ((r["actor"]["start"], r["actor"]["end"]),)) for r in records]


@pytest.fixture(scope="module")
def bundle(tiny_bundle, tmp_path_factory) -> Path:
    """A copy of the tiny bundle with both ONNX files and the OpenVINO int8 model exported at first use."""
    directory = tmp_path_factory.mktemp("onnx") / "bundle"
    shutil.copytree(tiny_bundle, directory)
    OnnxPredictor.from_bundle(directory, quantized=True)
    OpenVinoPredictor.from_bundle(directory)
    return directory


def scoring_config(bundle, documents, actors, out, backend) -> ScoreConfig:
    return ScoreConfig.model_validate({
        "model": str(bundle), "input": {"path": str(documents)}, "output": {"path": str(out)},
        "actors": {"paths": [str(actors)]}, "scoring": {"backend": backend, "batch_size": 3},
    })


def test_export_writes_both_models_and_their_agreement(bundle):
    import onnxruntime as ort

    record = json.loads((bundle / ONNX_DIR / EXPORT_JSON).read_text())
    assert record["model_id"] == read_model_info(bundle).model_id
    assert record["agreement_pairs"] > 0
    assert record["files"][FP32_FILE]["vs_torch"]["max_abs_prob_diff"] < 1e-4
    assert set(record["files"][INT8_FILE]["vs_fp32"]) == {"stance", "sentiment", "max_abs_prob_diff"}
    assert set(record["files"][INT8_FILE]["settings"]) == {"blockwise", "per_tensor"}
    session = ort.InferenceSession(str(bundle / ONNX_DIR / FP32_FILE), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [
        ("input_ids", ["batch", "sequence"]), ("attention_mask", ["batch", "sequence"])]
    assert [o.name for o in session.get_outputs()] == ["stance", "sentiment", "relation"]
    assert not list((bundle / ONNX_DIR).glob("*partial*")) and not list((bundle / ONNX_DIR).glob("*.raw.onnx"))


def test_fp32_probabilities_match_torch(bundle):
    from inference.predict import Predictor

    expected = Predictor.from_bundle(bundle, batch_size=5).predict(PAIRS)
    got = OnnxPredictor.from_bundle(bundle, batch_size=5).predict(PAIRS)
    for task in ("stance", "sentiment"):
        assert got[task].shape == (len(PAIRS), 3)
        np.testing.assert_allclose(got[task], expected[task], atol=1e-4)


def test_fp32_relation_probabilities_match_torch(bundle):
    from inference.predict import Predictor

    expected = Predictor.from_bundle(bundle, batch_size=4).predict_relations(DYADS)
    onnx = OnnxPredictor.from_bundle(bundle, batch_size=4)
    assert onnx.has_relations
    got = onnx.predict_relations(DYADS)
    assert got.shape == (len(DYADS), 3)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert not np.allclose(got[0], got[1], atol=1e-6)  # the direction of the dyad reaches the head


def test_int8_gives_valid_probabilities(bundle):
    probs = OnnxPredictor.from_bundle(bundle, quantized=True, batch_size=4).predict(PAIRS)
    for task in ("stance", "sentiment"):
        assert probs[task].shape == (len(PAIRS), 3) and np.isfinite(probs[task]).all()
        assert ((probs[task] >= 0) & (probs[task] <= 1)).all()
        np.testing.assert_allclose(probs[task].sum(axis=1), 1, atol=1e-5)
        # dynamic int8 scales activations per batch: the same pair in another batch differs slightly
        np.testing.assert_allclose(probs[task][:4], probs[task][4:8], atol=1e-2)


def test_openvino_int8_is_recorded_and_close_to_fp32(bundle):
    record = json.loads((bundle / ONNX_DIR / EXPORT_JSON).read_text())
    assert {FP32_FILE, INT8_FILE, OPENVINO_FILE} <= set(record["files"])
    assert record["files"][OPENVINO_FILE]["settings"]["model_type"] == "transformer"
    assert (bundle / ONNX_DIR / OPENVINO_FILE).with_suffix(".bin").is_file()
    fp32 = OnnxPredictor.from_bundle(bundle, batch_size=4).predict(PAIRS)
    int8 = OpenVinoPredictor.from_bundle(bundle, batch_size=4).predict(PAIRS)
    for task in ("stance", "sentiment"):
        np.testing.assert_allclose(int8[task].sum(axis=1), 1, atol=1e-5)
        difference = np.abs(int8[task] - fp32[task])  # about 0.003 on average, 0.02 at most, on this tiny model
        assert difference.mean() < 0.02 and difference.max() < 0.1


def test_openvino_int8_keeps_the_first_feed_forward_in_fp32(bundle):
    import openvino as ov

    from inference.openvino_backend import FIRST_FEED_FORWARD

    model = ov.Core().read_model(str(bundle / ONNX_DIR / OPENVINO_FILE))
    quantized_input = {op.get_friendly_name(): any(i.get_source_output().get_node().get_type_name() == "FakeQuantize"
                                                   for i in op.inputs())
                       for op in model.get_ops() if op.get_type_name() == "MatMul"}
    first = [name for name in quantized_input if FIRST_FEED_FORWARD.search(name)]
    second = [name for name in quantized_input if "layer.1/intermediate/dense/" in name]
    assert len(first) == 2 and not any(quantized_input[name] for name in first)
    assert second and all(quantized_input[name] for name in second)


@pytest.mark.parametrize("style", ["plain", "typed"])
def test_tokenizer_adapter_gives_the_transformers_ids(bundle, style):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(bundle))
    adapter = BundleTokenizer(bundle)
    settings = EncodingSettings(max_length=48, marker_style=style)
    pairs = corpus_pairs() + PAIRS
    assert encode_pairs(adapter, pairs, settings) == encode_pairs(reference, pairs, settings)
    assert adapter.pad_token_id == reference.pad_token_id
    tokens = ["<a>", "</a>", "<a:state>", "[CLS]", "unknown-token"]
    assert adapter.convert_tokens_to_ids(tokens) == reference.convert_tokens_to_ids(tokens)


def test_onnx_scoring_imports_neither_torch_nor_transformers(bundle, documents_file, actors_dir, tmp_path):
    script = f"""
import sys
from inference.config import ScoreConfig
from inference.score import score
for backend in ("onnx", "onnx-int8", "openvino-int8"):
    score(ScoreConfig.model_validate({{"model": {str(bundle)!r}, "input": {{"path": {str(documents_file)!r}}},
        "output": {{"path": {str(tmp_path / "out.jsonl")!r}}}, "actors": {{"paths": [{str(actors_dir)!r}]}},
        "scoring": {{"backend": backend}}}}), show_progress=False)
print(sorted(name for name in ("torch", "transformers") if name in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("backend", ["onnx-int8", "openvino-int8"])
def test_damaged_onnx_file_is_a_clear_bundle_error(bundle, tmp_path, backend):
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle, damaged)
    path = damaged / ONNX_DIR / (INT8_FILE if backend == "onnx-int8" else OPENVINO_FILE)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BundleError) as err:
        if backend == "onnx-int8":
            OnnxPredictor.from_bundle(damaged, quantized=True)
        else:
            OpenVinoPredictor.from_bundle(damaged)
    message = str(err.value)
    assert "\n" not in message and str(path) in message


def test_stale_export_is_redone_by_the_cli(bundle, tmp_path):
    from training.cli import run

    stale = tmp_path / "stale"
    shutil.copytree(bundle, stale)
    record_path = stale / ONNX_DIR / EXPORT_JSON
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "model_id": "an-older-model"}))
    info = read_model_info(stale)
    from inference.onnx_backend import is_current

    assert not is_current(stale, info, FP32_FILE)
    assert run(["export", str(stale)]) == 0
    assert is_current(stale, info, FP32_FILE) and not is_current(stale, info, INT8_FILE)
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "outputs": ["stance", "sentiment"]}))  # exported without relation
    assert not is_current(stale, info, FP32_FILE)


@pytest.mark.parametrize("int8", ["onnx-int8", "openvino-int8"])
def test_int8_scoring_writes_the_rows_torch_writes(bundle, documents_file, actors_dir, tmp_path, int8):
    rows, relations = {}, {}
    for backend in ("torch", int8):
        out = tmp_path / f"{backend}.jsonl"
        summary = score(scoring_config(bundle, documents_file, actors_dir, out, backend), show_progress=False)
        assert summary.pairs == 8
        rows[backend] = [json.loads(line) for line in open(out, encoding="utf-8")]
        relations[backend] = [json.loads(line) for line in open(tmp_path / f"{backend}.relations.jsonl")]
    dyad = ("doc_id", "sentence_index", "source_id", "target_id")
    assert relations["torch"] and [[r[k] for k in dyad] for r in relations[int8]] == [
        [r[k] for k in dyad] for r in relations["torch"]]
    for row in relations[int8]:
        assert abs(sum(row["relation_probs"].values()) - 1) < 1e-5
    assert len(rows["torch"]) == len(rows[int8]) == 8
    for expected, got in zip(rows["torch"], rows[int8], strict=True):
        assert list(got) == list(expected)
        same = {k: v for k, v in got.items() if not k.startswith(("stance", "sentiment"))}
        assert same == {k: v for k, v in expected.items() if not k.startswith(("stance", "sentiment"))}
        for task in ("stance", "sentiment"):
            assert list(got[f"{task}_probs"]) == list(expected[f"{task}_probs"])
            assert got[task] == max(got[f"{task}_probs"], key=got[f"{task}_probs"].get)
