"""OpenVINO int8 scoring backend (`openvino-int8`) and its quantization.

The int8 model is NNCF's post-training quantization of the unfused fp32 ONNX export (the same graph
`onnx` serves after ONNX Runtime's fusions), with NNCF's transformer preset: activation ranges from
calibration batches of the bundle's dev pairs, symmetric int8 weights and asymmetric activations (the
mixed preset), SmoothQuant on the matmul inputs, and the operations that suffer most from int8
(softmax, layer norm, GELU, the first layer's feed-forward) left in floating point. OpenVINO runs it with
int8 kernels (VNNI where the CPU has them), which ONNX Runtime's QDQ execution does not do on CPU.

Scoring imports only openvino, tokenizers and numpy. Quantization runs at first use or with
`actorstance export BUNDLE --openvino` (it needs torch for the ONNX export, and nncf), and writes
`onnx/model.int8.openvino.xml` and `.bin` into the bundle, recorded in `onnx/export.json`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .batching import BatchedPredictor, length_sorted_batches, pad_rows
from .bundle import ModelInfo, read_model_info
from .encoding import PairInput, encode_pairs
from .errors import BundleError
from .onnx_backend import (
    ONNX_DIR,
    TOKENIZER_FILE,
    BundleTokenizer,
    _first_line,
    _quiet_logging,
    export_onnx,
    is_current,
    output_names,
)

OPENVINO_FILE = "model.int8.openvino.xml"  # its weights are the .bin of the same name
CALIBRATION_PAIRS = 256
CALIBRATION_BATCH = 8
# The first layer's feed-forward matmuls stay fp32 (as in onnx-int8: their inputs carry the outlier channels).
# Default model of corpus v6, OpenVINO 2026.4 / NNCF 3.4, 3,000 corpus training pairs, 2 threads, one run: labels
# as fp32 ONNX and model-only pairs/s: everything int8 99.2% / 98.5%, 1228; layer 0's feed-forward fp32 (this)
# 99.6% / 99.3%, 1000; all of layer 0 fp32 99.3% / 98.8%, 950; the heads fp32 and 512 calibration pairs
# 99.1% / 98.7%, 1185; NNCF's performance preset (symmetric activations) 98.8% / 98.2%, 1232.
FIRST_FEED_FORWARD = re.compile(r"layer\.0/(intermediate|output)/dense/")
OPENVINO_INT8_SETTINGS = {"tool": "nncf.quantize", "model_type": "transformer", "preset": "mixed",
                          "kept_fp32": "feed-forward matmuls of the first layer",
                          "calibration_pairs": CALIBRATION_PAIRS, "calibration_batch": CALIBRATION_BATCH}


def _compile(path: Path, threads: int | None):
    import openvino as ov

    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        return ov.Core().compile_model(str(path), "CPU", config)
    except RuntimeError as err:  # openvino raises RuntimeError for unreadable or inconsistent IR files
        raise BundleError(
            f"{path} cannot be loaded by OpenVINO ({_first_line(err)}); the file is damaged: delete it "
            f"or re-export with `actorstance export {path.parent.parent} --openvino`"
        ) from None


class OpenVinoPredictor(BatchedPredictor):
    """Scores (sentence, actor) pairs with a compiled OpenVINO model; same interface as the other predictors."""

    def __init__(self, compiled, tokenizer: BundleTokenizer, info: ModelInfo, batch_size: int = 64):
        names = {name for output in compiled.outputs for name in output.get_names()}
        if missing := [task for task in output_names(info) if task not in names]:
            raise BundleError(f"OpenVINO model has outputs {sorted(names)}, not the tasks {missing} of model.json; "
                              "re-export it")
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.tokenizer = tokenizer
        self.info = info
        self.batch_size = batch_size
        self.pad_id = tokenizer.pad_token_id

    @classmethod
    def from_bundle(cls, path: str | Path, batch_size: int = 64, threads: int | None = None) -> OpenVinoPredictor:
        """Open the bundle's OpenVINO int8 model, quantizing it first (with torch and nncf) when missing or stale."""
        directory = Path(path)
        info = read_model_info(directory, required=(TOKENIZER_FILE,))
        if not is_current(directory, info, OPENVINO_FILE):
            print(f"actorstance: quantizing {directory / ONNX_DIR / OPENVINO_FILE} (first use of this bundle with "
                  "this backend)", file=sys.stderr)
            export_onnx(directory, openvino=True)
        return cls(_compile(directory / ONNX_DIR / OPENVINO_FILE, threads), BundleTokenizer(directory), info,
                   batch_size)

    def _run(self, input_ids: np.ndarray, attention: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
        # the request reuses its output buffers: BatchedPredictor copies each batch out before the next
        result = self.request.infer({"input_ids": input_ids, "attention_mask": attention})
        return {name: result[self.compiled.output(name)] for name in outputs}


def quantize_openvino(unfused_onnx: Path, path: Path, tokenizer, info: ModelInfo,
                      calibration: Sequence[PairInput]) -> None:
    """NNCF int8 of the unfused fp32 ONNX graph, saved as OpenVINO IR at `path` (.xml and .bin)."""
    with _quiet_logging():
        try:
            import nncf
            import openvino as ov
        except ImportError as err:
            raise BundleError(f"the openvino-int8 backend needs openvino and nncf to quantize ({err}); "
                              "pip install openvino nncf") from None
        encoded = encode_pairs(tokenizer, list(calibration), info.encoding)
        batches = [dict(zip(("input_ids", "attention_mask"), pad_rows([encoded[i] for i in batch],
                                                                      tokenizer.pad_token_id), strict=True))
                   for batch in length_sorted_batches([len(e) for e in encoded], CALIBRATION_BATCH)]
        model = ov.Core().read_model(str(unfused_onnx))
        first = [op.get_friendly_name() for op in model.get_ops()
                 if op.get_type_name() == "MatMul" and FIRST_FEED_FORWARD.search(op.get_friendly_name())]
        quantized = nncf.quantize(model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER,
                                  preset=nncf.QuantizationPreset.MIXED, subset_size=len(batches),
                                  ignored_scope=nncf.IgnoredScope(names=first, validate=False))
        ov.save_model(quantized, str(path))
