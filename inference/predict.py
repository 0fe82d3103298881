"""Batched prediction: length-sorted batches, dynamic padding, inference mode, calibrated softmax."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch

from .batching import length_sorted_batches, softmax
from .encoding import DyadInput, PairInput, encode_dyads, encode_pairs
from .labels import RELATION
from .model import ActorStanceModel, ModelInfo, load_bundle


def pad_batch(rows: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention[i, : len(row)] = 1
    return input_ids, attention


@cache
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls in hardware. Elsewhere oneDNN emulates bf16, no faster than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:  # not Linux: keep fp32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto` is bf16 where the hardware runs it natively (label agreement with fp32 above 99% on the
    corpus, about 2.8x the speed on AVX512-BF16 CPUs), fp32 elsewhere."""
    if precision != "auto":
        return precision
    native = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
    return "bf16" if native else "fp32"


class Predictor:
    """Scores (sentence, actor) pairs with a loaded model; returns probabilities per task.

    `precision` bf16 runs the forward pass under bf16 autocast (weights stay fp32; layer norms and
    softmax stay in fp32); training and evaluation use fp32, the default.
    """

    def __init__(self, model: ActorStanceModel, tokenizer, batch_size: int = 64, threads: int | None = None,
                 device: str = "cpu", precision: str = "fp32"):
        if threads:
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    @classmethod
    def from_bundle(cls, path: str | Path, batch_size: int = 64, threads: int | None = None,
                    device: str = "cpu", precision: str = "fp32") -> Predictor:
        model, tokenizer = load_bundle(path)
        return cls(model, tokenizer, batch_size, threads, device, precision)

    @property
    def info(self) -> ModelInfo:
        return self.model.info

    def _batched(self, encoded: list[list[int]], forward, widths: dict[str, int]) -> dict[str, np.ndarray]:
        """Run `forward` over length-sorted, padded batches; outputs (dict of logits) in input order."""
        self.model.eval()  # training evaluates between epochs: dropout must be off here
        out = {name: np.zeros((len(encoded), width), dtype=np.float32) for name, width in widths.items()}
        bf16 = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), bf16:
            for batch in length_sorted_batches([len(e) for e in encoded], self.batch_size):
                input_ids, attention = pad_batch([encoded[i] for i in batch], self.pad_id)
                for name, logits in forward(input_ids.to(self.device), attention.to(self.device)).items():
                    out[name][batch] = logits.float().cpu().numpy()
        return out

    def logits(self, pairs: Sequence[PairInput]) -> dict[str, np.ndarray]:
        """Raw (uncalibrated) logits per task, in input order."""
        encoded = encode_pairs(self.tokenizer, pairs, self.info.encoding)
        return self._batched(encoded, self.model, {task: len(self.info.labels[task]) for task in self.model.heads})

    def relation_logits(self, dyads: Sequence[DyadInput]) -> np.ndarray:
        """Raw relation logits for (source, target) dyads, in input order."""
        encoded = encode_dyads(self.tokenizer, dyads, self.info.encoding)
        forward = lambda ids, mask: {RELATION: self.model.forward_relation(ids, mask)}  # noqa: E731
        return self._batched(encoded, forward, {RELATION: len(self.info.labels[RELATION])})[RELATION]

    def predict_relations(self, dyads: Sequence[DyadInput]) -> np.ndarray:
        """Calibrated relation probabilities, in input order."""
        return softmax(self.relation_logits(dyads) / self.info.temperatures.get(RELATION, 1.0))

    @property
    def has_relations(self) -> bool:
        return self.model.relation_head is not None

    def predict(self, pairs: Sequence[PairInput]) -> dict[str, np.ndarray]:
        """Calibrated probabilities per task (rows sum to 1), in input order."""
        return {
            task: softmax(logits / self.info.temperatures.get(task, 1.0))
            for task, logits in self.logits(pairs).items()
        }
