"""Batching, padding and calibrated prediction shared by every backend (no torch here: the ONNX path uses it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .calibration import calibrated
from .encoding import DyadInput, PairInput, encode_dyads, encode_pairs
from .labels import RELATION, actor_tasks


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_rows(rows: Sequence[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token id rows padded to the longest: (input_ids, attention_mask), both int64."""
    width = max(len(r) for r in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    attention = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = row
        attention[i, : len(row)] = 1
    return input_ids, attention


class BatchedPredictor:
    """Encoding, length-sorted batches and calibration, the same for every backend.

    A backend sets `info`, `tokenizer`, `batch_size` and `pad_id` and implements `_run`: the named
    outputs (logits) of one padded batch.
    """

    def _run(self, input_ids: np.ndarray, attention: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _batched(self, encoded: list[list[int]], outputs: list[str]) -> dict[str, np.ndarray]:
        """The named outputs over length-sorted, padded batches, in input order."""
        out = {name: np.zeros((len(encoded), len(self.info.labels[name])), dtype=np.float32) for name in outputs}
        for batch in length_sorted_batches([len(e) for e in encoded], self.batch_size):
            input_ids, attention = pad_rows([encoded[i] for i in batch], self.pad_id)
            for name, logits in self._run(input_ids, attention, outputs).items():
                out[name][batch] = logits
        return out

    @property
    def has_relations(self) -> bool:
        return RELATION in self.info.labels

    def logits(self, pairs: Sequence[PairInput]) -> dict[str, np.ndarray]:
        """Raw (uncalibrated) logits per task, in input order."""
        encoded = encode_pairs(self.tokenizer, pairs, self.info.encoding)
        return self._batched(encoded, actor_tasks(self.info.labels))

    def relation_logits(self, dyads: Sequence[DyadInput]) -> np.ndarray:
        """Raw relation logits for (source, target) dyads, in input order."""
        return self._batched(encode_dyads(self.tokenizer, dyads, self.info.encoding), [RELATION])[RELATION]

    def calibrated(self, task: str, logits: np.ndarray) -> np.ndarray:
        return calibrated(logits, self.info.temperatures.get(task, 1.0), self.info.confidence_maps.get(task))

    def predict(self, pairs: Sequence[PairInput]) -> dict[str, np.ndarray]:
        """Calibrated probabilities per task (rows sum to 1), in input order."""
        return {task: self.calibrated(task, logits) for task, logits in self.logits(pairs).items()}

    def predict_relations(self, dyads: Sequence[DyadInput]) -> np.ndarray:
        """Calibrated relation probabilities, in input order."""
        return self.calibrated(RELATION, self.relation_logits(dyads))
