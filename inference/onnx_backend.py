"""ONNX Runtime scoring backends (`onnx`, `onnx-int8`) and their export into the bundle.

Scoring imports neither torch nor transformers: the tokenizer is read with `tokenizers` and wrapped
so that the same `encode_pairs` builds the model input for every backend. Export needs torch; it
runs at first use or with `actorstance export BUNDLE [--int8]` and writes, inside the bundle:

- `onnx/model.onnx`: fp32, inputs input_ids and attention_mask (dynamic batch and sequence axes),
  one logits output per task, named after the task; `relation` among them when the bundle has a
  relation head (the graph computes every head from one encoder pass: the heads are tiny, and one
  graph serves actor-marked and dyad-marked input alike)
- `onnx/model.int8.onnx`: int8 quantization of the encoder's matmuls and attention (see INT8_SETTINGS)
- `onnx/export.json`: the model_id the files come from, settings, and label agreement of each file
  with the torch model (and of int8 with fp32) on the bundle's dev pairs

Files whose model_id differs from the bundle's (the bundle was retrained in place), or that lack one
of its heads, are re-exported.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np

from .batching import BatchedPredictor
from .bundle import ModelInfo, read_model_info
from .encoding import DyadInput, PairInput, encode_pairs
from .errors import BundleError
from .io import write_json
from .labels import RELATION, actor_tasks

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_JSON = "export.json"
TOKENIZER_FILE = "tokenizer.json"
OPSET = 17
AGREEMENT_PAIRS = 512
MAX_FP32_DIFF = 1e-3  # fp32 ONNX vs torch, in probability: beyond float rounding means a wrong export
EXAMPLES = [
    PairInput("Russia and Ukraine signed a grain export deal in Istanbul.", ((0, 6),)),
    PairInput("NATO warned Moscow against any attack on Ukraine.", ((0, 4),)),
    PairInput("Iranian drones struck a tanker off the coast of Oman, the Pentagon said.", ((0, 7),)),
    PairInput("The UN envoy praised both sides for the ceasefire.", ((4, 6),)),
]
EXAMPLE_DYADS = [
    DyadInput("Turkey sent tanks to help the rebels drive Islamic State out of the town.", ((0, 6),),
              ((50, 63),)),
    DyadInput("Russia and Ukraine signed a grain export deal in Istanbul.", ((11, 18),), ((0, 6),)),
]
# int8 of a trained all-MiniLM-L6-v2 bundle (1 epoch on data/corpus), label agreement with fp32 on the 6547 corpus
# pairs / 2973 NewsMTSC+CAMEO pairs, and speed against fp32 ONNX (1 thread):
#   dynamic int8, per-tensor weights:                 93.8% / 92.7%   2.0x
#   dynamic int8, per-channel weights:                97.7% / 97.3%   2.0x
#   same, first two layers kept fp32:                 98.5% / 98.4%   1.5x
#   8-bit block-wise (MatMulNBits) everywhere:        99.2% / 99.0%   1.3x
#   block-wise in the first half's feed-forward, per-channel dynamic elsewhere (this): 98.9% / 98.8%   1.6x
# Static QDQ (activations calibrated on 256 dev pairs), agreement on 2,000 corpus pairs and speed against this setting:
#   every matmul 93.2% / 93.4%, 1.3x; feed-forward of layers 0-2 kept fp32 98.3% / 97.0%, 1.0x.
# ONNX Runtime 1.32, default model, agreement with fp32 on 3,000 corpus pairs, speed against this setting (2 threads):
#   per-channel dynamic everywhere 97.9% / 98.0%, 1.28x; same with Attention_0 and layer 0's feed-forward in fp32
#   98.3% / 98.5%, 1.10x; SmoothQuant scales (alpha 0.5 / 0.75) before dynamic int8 95.7% / 98.0% stance, 1.15x;
#   static QDQ with int8 weights and uint8 activations (MinMax): per-channel 99.6%, per-tensor 95.5% stance, both
#   no faster than fp32 here; static QOperator fails inside the quantizer.
# Dynamic int8 quantizes activations per tensor, which the feed-forward inputs (outlier channels) suffer from
# most, in early layers most; MatMulNBits with accuracy_level 4 quantizes them per block of 128 instead.
INT8_SETTINGS = {
    "blockwise": {"applies_to": "feed-forward matmuls of the first half of the layers", "op": "MatMulNBits",
                  "bits": 8, "block_size": 128, "accuracy_level": 4},
    "per_tensor": {"applies_to": "every other encoder matmul and the fused attention", "op": "quantize_dynamic",
                   "per_channel": True, "weight_type": "QInt8"},
}


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


class BundleTokenizer:
    """The bundle's tokenizer.json behind the part of the transformers tokenizer API that encode_pairs uses."""

    def __init__(self, directory: str | Path):
        from tokenizers import Tokenizer

        directory = Path(directory)
        path = directory / TOKENIZER_FILE
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises a bare Exception for unreadable files
            raise BundleError(f"{path} cannot be read ({_first_line(err)})") from None
        # encode_pairs windows long sentences itself; truncation or padding stored in the file would change ids
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        config = _read_json(directory / "tokenizer_config.json")
        self.unk_token_id = self._special_id(config.get("unk_token", "[UNK]"))
        pad = self._special_id(config.get("pad_token", "[PAD]"))
        self.pad_token_id = 0 if pad is None else pad

    def _special_id(self, token: str | dict) -> int | None:
        return self._tokenizer.token_to_id(token["content"] if isinstance(token, dict) else token)

    def __call__(self, text: str | list[str], add_special_tokens: bool = True, truncation: bool = False,
                 verbose: bool = False) -> dict:
        """Like a transformers tokenizer call; `truncation` and `verbose` are accepted and ignored (never truncates)."""
        if isinstance(text, str):
            return {"input_ids": self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}
        return {"input_ids": [e.ids for e in self._tokenizer.encode_batch(text, add_special_tokens=add_special_tokens)]}

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> list[int | None]:
        # like transformers, an unknown token gives the unknown-token id (encode_pairs asks for every typed marker)
        ids = [self._tokenizer.token_to_id(token) for token in tokens]
        return [self.unk_token_id if i is None else i for i in ids]


def _session(path: Path, threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...) for damaged files
        raise BundleError(
            f"{path} cannot be loaded by onnxruntime ({_first_line(err)}); the file is damaged: delete it "
            f"or re-export with `actorstance export {path.parent.parent}`"
        ) from None


def output_names(info: ModelInfo) -> list[str]:
    """The ONNX model's outputs: the per-actor tasks, then the relation head where the bundle has one."""
    return actor_tasks(info.labels) + ([RELATION] if RELATION in info.labels else [])


class OnnxPredictor(BatchedPredictor):
    """Scores (sentence, actor) pairs with an ONNX Runtime session; same interface as inference.predict.Predictor."""

    def __init__(self, session, tokenizer: BundleTokenizer, info: ModelInfo, batch_size: int = 64):
        names = [output.name for output in session.get_outputs()]
        if missing := [task for task in output_names(info) if task not in names]:
            raise BundleError(f"ONNX model has outputs {names}, not the tasks {missing} of model.json; re-export it")
        self.session = session
        self.tokenizer = tokenizer
        self.info = info
        self.batch_size = batch_size
        self.pad_id = tokenizer.pad_token_id

    @classmethod
    def from_bundle(cls, path: str | Path, quantized: bool = False, batch_size: int = 64,
                    threads: int | None = None) -> OnnxPredictor:
        """Open the bundle's ONNX model, exporting it first (with torch) when missing or stale."""
        directory = Path(path)
        info = read_model_info(directory, required=(TOKENIZER_FILE,))
        name = INT8_FILE if quantized else FP32_FILE
        if not is_current(directory, info, name):
            print(f"actorstance: exporting {directory / ONNX_DIR / name} (first use of this bundle with this backend)",
                  file=sys.stderr)
            export_onnx(directory, quantized)
        return cls(_session(directory / ONNX_DIR / name, threads), BundleTokenizer(directory), info, batch_size)

    def _run(self, input_ids: np.ndarray, attention: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(outputs, self.session.run(outputs, {"input_ids": input_ids, "attention_mask": attention}),
                        strict=True))


# ---------------------------------------------------------------- export (needs torch)


def is_current(directory: Path, info: ModelInfo, name: str) -> bool:
    """The ONNX file exists and was exported from the bundle's present weights."""
    record = _read_json(directory / ONNX_DIR / EXPORT_JSON)
    return (directory / ONNX_DIR / name).is_file() and record.get("model_id") == info.model_id and (
        name in record.get("files", {})) and record.get("outputs") == output_names(info)


def _export_fp32(model, tokenizer, path: Path) -> None:
    """TorchScript export with eager attention, then ONNX Runtime's BERT fusions (Attention, SkipLayerNorm,
    BiasGelu): the dynamo exporter's graph is not matched by those fusions, and unfused it is slower.
    The unfused export is left next to `path` (export_onnx stages both in a temporary directory)."""
    import warnings
    from unittest import mock

    import torch
    from onnxruntime.transformers.optimizer import optimize_model

    tasks = output_names(model.info)

    class Logits(torch.nn.Module):
        """Every head from one encoder pass, as a tuple in output order (ONNX outputs are positional)."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            out = self.model.all_logits(input_ids, attention_mask)
            return tuple(out[task] for task in tasks)

    def isin(elements, test_elements):
        # the exporters have no translation of aten.isin
        return (elements.unsqueeze(-1) == test_elements.reshape(-1)).any(-1)

    example = encode_pairs(tokenizer, [PairInput("Russia and Iran met in Geneva.", ((0, 6),))] * 2,
                           model.info.encoding)
    input_ids = torch.tensor(example)
    model.encoder.set_attn_implementation("eager")  # the attention pattern ONNX Runtime's fusion recognises
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    raw = path.with_name(f"unfused.{path.name}")
    with mock.patch("torch.isin", isin), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings; export_onnx checks the result numerically
        torch.onnx.export(
            Logits().eval(), (input_ids, torch.ones_like(input_ids)), str(raw), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=tasks,
            dynamic_axes={**dynamic, **{task: {0: "batch"} for task in tasks}},
        )
    config = model.encoder.config
    fused = optimize_model(str(raw), model_type="bert", num_heads=getattr(config, "num_attention_heads", 0),
                           hidden_size=getattr(config, "hidden_size", 0))
    fused.save_model_to_file(str(path))


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """onnxruntime's quantizers log per-tensor notes, and one module calls logging.basicConfig on import."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        root.handlers[:] = handlers
        root.setLevel(level)


def _quantize(source: Path, path: Path, layers: int) -> None:
    """int8 as in INT8_SETTINGS: block-wise where the model is most sensitive, per-tensor elsewhere."""
    import onnx

    with _quiet_logging():
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        model = onnx.load(source)
        weights = {tensor.name for tensor in model.graph.initializer}
        nodes = [n.name for n in model.graph.node if n.op_type in ("MatMul", "Attention") and n.input[1] in weights]
        if not nodes or len(nodes) % layers:
            raise BundleError(f"{source}: found {len(nodes)} weight matmuls for {layers} encoder layers; "
                              "this encoder cannot be quantized here, use scoring.backend onnx")
        width = len(nodes) // layers  # graph order: each layer's weight matmuls end with its feed-forward pair
        blockwise = {name for i in range(1, layers // 2 + 1) for name in nodes[i * width - 2 : i * width]}
        settings = INT8_SETTINGS["blockwise"]
        nbits = MatMulNBitsQuantizer(model, bits=settings["bits"], block_size=settings["block_size"],
                                     is_symmetric=True, accuracy_level=settings["accuracy_level"],
                                     nodes_to_exclude=[name for name in nodes if name not in blockwise])
        nbits.process()
        settings = INT8_SETTINGS["per_tensor"]
        quantize_dynamic(
            nbits.model.model, path, op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_quantize=[name for name in nodes if name not in blockwise], per_channel=settings["per_channel"],
            reduce_range=False, weight_type=QuantType.QInt8,
            # the fused ops are in the com.microsoft domain, which shape inference does not type
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def _sample_pairs(directory: Path, limit: int = AGREEMENT_PAIRS) -> tuple[list[PairInput], list[str]]:
    """Up to `limit` labelled pairs of the bundle's dev sets (then training sets) that exist from here; the
    built-in examples when none does. They measure agreement with torch and guard the export."""
    import yaml

    config_path = directory / "train_config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    paths = dict.fromkeys(Path(source["path"]) for source in (config.get("dev") or []) + (config.get("train") or []))
    pairs, used = [], []
    for path in (p for p in paths if p.is_file()):
        used.append(str(path))
        for line in open(path, encoding="utf-8"):
            try:
                record = json.loads(line)
                mentions = [record["actor"], *(record.get("meta") or {}).get("mentions", [])]
                spans = tuple(sorted({(m["start"], m["end"]) for m in mentions}))
                pairs.append(PairInput(record["text"], spans, (record.get("meta") or {}).get("actor_type")))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # not a per-pair record; the data checks report these, here they are only skipped
            if len(pairs) == limit:
                return pairs, used
    return (pairs, used) if pairs else (EXAMPLES, [])


def _agreement(probs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict:
    """Share of pairs with the same label per task, and the largest probability difference."""
    result = {task: round(float((p.argmax(-1) == reference[task].argmax(-1)).mean()), 4) for task, p in probs.items()}
    result["max_abs_prob_diff"] = round(max(float(np.abs(p - reference[t]).max()) for t, p in probs.items()), 6)
    return result


def export_onnx(bundle: str | Path, quantized: bool = False, openvino: bool = False) -> Path:
    """Export the bundle's model to `onnx/model.onnx`, and `onnx/model.int8.onnx` when quantized, and the
    OpenVINO int8 model (inference.openvino_backend) when openvino; returns the path of the model asked for.

    The files are built in a temporary directory and moved into place only when the fp32 model matches
    torch, so a failed or interrupted export leaves the previous files as they were.
    """
    import tempfile

    directory = Path(bundle)
    try:
        from .model import load_bundle
        from .openvino_backend import (
            CALIBRATION_PAIRS,
            OPENVINO_FILE,
            OPENVINO_INT8_SETTINGS,
            OpenVinoPredictor,
            _compile,
            quantize_openvino,
        )
        from .predict import Predictor
    except ImportError as err:
        raise BundleError(f"{directory} has no current ONNX model and exporting one needs torch ({err}); run "
                          f"`actorstance export {directory} --int8` where torch is installed") from None
    model, tokenizer = load_bundle(directory)
    info = model.info
    out = directory / ONNX_DIR
    out.mkdir(exist_ok=True)
    samples, sources = _sample_pairs(directory, AGREEMENT_PAIRS + (CALIBRATION_PAIRS if openvino else 0))
    # OpenVINO's int8 is calibrated on other pairs than those its agreement is measured on, where there are enough
    samples, calibration = samples[:AGREEMENT_PAIRS], samples[AGREEMENT_PAIRS:] or samples
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as work:
        staged = {FP32_FILE: Path(work) / FP32_FILE}
        _export_fp32(model, tokenizer, staged[FP32_FILE])
        if quantized:
            staged[INT8_FILE] = Path(work) / INT8_FILE
            _quantize(staged[FP32_FILE], staged[INT8_FILE], model.encoder.config.num_hidden_layers)
        onnx_tokenizer = BundleTokenizer(directory)
        predictors = {name: OnnxPredictor(_session(path, None), onnx_tokenizer, info) for name, path in staged.items()}
        if openvino:
            staged[OPENVINO_FILE] = Path(work) / OPENVINO_FILE
            quantize_openvino(Path(work) / f"unfused.{FP32_FILE}", staged[OPENVINO_FILE], tokenizer, info, calibration)
            predictors[OPENVINO_FILE] = OpenVinoPredictor(_compile(staged[OPENVINO_FILE], None), onnx_tokenizer, info)
        torch_predictor = Predictor(model, tokenizer)
        reference = torch_predictor.predict(samples)
        probs = {name: predictor.predict(samples) for name, predictor in predictors.items()}
        fp32 = _agreement(probs[FP32_FILE], reference)
        if RELATION in info.labels:
            difference = predictors[FP32_FILE].predict_relations(EXAMPLE_DYADS) - torch_predictor.predict_relations(
                EXAMPLE_DYADS)
            fp32["max_abs_prob_diff"] = max(fp32["max_abs_prob_diff"], round(float(np.abs(difference).max()), 6))
        if fp32["max_abs_prob_diff"] > MAX_FP32_DIFF:
            raise BundleError(f"ONNX export of {directory} differs from the torch model by up to "
                              f"{fp32['max_abs_prob_diff']} in probability; keep scoring.backend torch for it")
        for name, path in staged.items():
            if name == OPENVINO_FILE:  # its weights file goes first: the .xml is what marks the model present
                os.replace(path.with_suffix(".bin"), (out / name).with_suffix(".bin"))
            os.replace(path, out / name)

    previous = _read_json(out / EXPORT_JSON)
    files = previous.get("files", {}) if previous.get("model_id") == info.model_id else {}
    files[FP32_FILE] = {"vs_torch": fp32}
    if quantized:
        files[INT8_FILE] = {"settings": INT8_SETTINGS,
                            "vs_fp32": _agreement(probs[INT8_FILE], probs[FP32_FILE]),
                            "vs_torch": _agreement(probs[INT8_FILE], reference)}
    if openvino:
        files[OPENVINO_FILE] = {"settings": OPENVINO_INT8_SETTINGS, "calibration_pairs": len(calibration),
                                "vs_fp32": _agreement(probs[OPENVINO_FILE], probs[FP32_FILE]),
                                "vs_torch": _agreement(probs[OPENVINO_FILE], reference)}
    libraries = ("torch", "onnx", "onnxruntime") + (("openvino", "nncf") if openvino else ())
    write_json(out / EXPORT_JSON, {
        "model_id": info.model_id, "opset": OPSET, "outputs": output_names(info),
        "versions": {**previous.get("versions", {}), **{name: metadata.version(name) for name in libraries}},
        "agreement_pairs": len(samples), "agreement_sources": sources or ["built-in examples"], "files": files,
    })
    return out / (OPENVINO_FILE if openvino else INT8_FILE if quantized else FP32_FILE)
