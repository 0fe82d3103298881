"""Directed actor-to-actor relations: for ordered pairs of actors in one sentence, who cooperates
with or opposes whom, written as a second table next to the scored rows.

Labels map to CAMEO QuadClass as documented in data/GUIDELINES.md: `cooperative` = QuadClass 1-2
(verbal and material cooperation), `adversarial` = QuadClass 3-4 (verbal and material conflict),
`none` = no interaction between the two (QuadClass 0 or no event).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice, permutations

import pyarrow as pa

from .encoding import DyadInput


@dataclass
class Dyad:
    doc_id: str
    sentence_index: int
    source: object  # a ScoredPair: its sentence, actor and mentions
    target: object

    def model_input(self) -> DyadInput:
        return DyadInput(self.source.sentence, self.source.spans(), self.target.spans())


def sentence_dyads(pairs: Sequence, max_per_sentence: int) -> tuple[list[Dyad], int]:
    """Ordered actor pairs of each sentence (actors in order of first mention), at most
    `max_per_sentence` per sentence so that a crowded sentence cannot explode the cost; returns the
    dyads and how many were left out."""
    sentences: dict[tuple[str, int], list] = {}
    for pair in pairs:
        sentences.setdefault((pair.doc_id, pair.sentence_index), []).append(pair)
    dyads, skipped = [], 0
    for (doc_id, index), members in sentences.items():
        members = sorted(members, key=lambda p: p.mentions[0]["start"])
        kept = islice(permutations(members, 2), max_per_sentence)
        dyads += [Dyad(doc_id, index, source, target) for source, target in kept]
        skipped += max(0, len(members) * (len(members) - 1) - max_per_sentence)
    return dyads, skipped


def relation_schema(labels: list[str], keep_fields: Iterable[str]) -> pa.Schema:
    fields = [("doc_id", pa.string()), ("sentence_index", pa.int64()), ("source_id", pa.string()),
              ("source_name", pa.string()), ("target_id", pa.string()), ("target_name", pa.string()),
              ("relation", pa.string()), ("relation_probs", pa.struct([(name, pa.float64()) for name in labels])),
              ("model_id", pa.string())]
    return pa.schema(fields + [(name, pa.string()) for name in keep_fields])


def relation_rows(dyads: list[Dyad], probs, labels: list[str], model_id: str) -> list[dict]:
    best, values = probs.argmax(axis=1).tolist(), probs.tolist()
    rows = []
    for dyad, label, p in zip(dyads, best, values, strict=True):
        rows.append({
            "doc_id": dyad.doc_id, "sentence_index": dyad.sentence_index,
            "source_id": dyad.source.actor_id, "source_name": dyad.source.actor_name,
            "target_id": dyad.target.actor_id, "target_name": dyad.target.actor_name,
            "relation": labels[label], "relation_probs": dict(zip(labels, p, strict=True)),
            "model_id": model_id, **dyad.source.extra,
        })
    return rows
