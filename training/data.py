"""Reading labelled pairs: the per-pair JSONL of ../shared/datasets/README.md, which the shipped
corpus uses too.

```json
{"id": "...", "source": "...", "text": "...", "actor": {"text": "Iran", "start": 0, "end": 4},
 "stance": "adversarial", "sentiment": null, "meta": {...}}
```

`null` means "not labelled for that task". Extra fields are ignored. The shipped corpus adds
`meta.mentions` (every mention of the actor in the sentence, all of which are marked) and
`meta.actor_type`; coreferent pronouns (NewsMTSC `meta.further_mentions`) are not marked, because
scoring never marks pronouns either.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path

from inference.config import DataSource
from inference.encoding import DyadInput, PairInput
from inference.errors import DataError
from inference.labels import TASKS, no_relation


@dataclass
class LabelledPair:
    id: str
    source: str
    text: str
    spans: tuple[tuple[int, int], ...]
    labels: dict[str, str | None]
    meta: dict = field(default_factory=dict)
    weight: float = 1.0

    @property
    def actor_text(self) -> str:
        start, end = self.spans[0]
        return self.text[start:end]

    def model_input(self) -> PairInput:
        return PairInput(self.text, self.spans, self.meta.get("actor_type"))


def _span(obj, where: str, text: str) -> tuple[int, int]:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a mention object {{text, start, end}}, got {obj!r}")
    start, end = obj.get("start"), obj.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise DataError(f"{where}: span ({start}, {end}) is not inside the text of length {len(text)}")
    if "text" in obj and text[start:end] != obj["text"]:
        raise DataError(f"{where}: text[{start}:{end}] is {text[start:end]!r} but the mention says {obj['text']!r}")
    return start, end


def parse_pair(record: dict, where: str, labels: dict[str, list[str]]) -> LabelledPair:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: 'text' must be a non-empty string")
    meta = record.get("meta") or {}
    spans = [_span(record.get("actor"), f"{where}: actor", text)]
    spans += [_span(m, f"{where}: meta.mentions", text) for m in meta.get("mentions") or []]
    pair_labels: dict[str, str | None] = {}
    for task in TASKS:
        value = record.get(task)
        if value is not None and value not in labels[task]:
            raise DataError(f"{where}: {task} label {value!r} is not one of {labels[task]}")
        pair_labels[task] = value
    return LabelledPair(
        id=str(record.get("id", where)), source=str(record.get("source", "")), text=text,
        spans=tuple(sorted(set(spans))), labels=pair_labels, meta=meta,
    )


def read_pairs(path: str | Path, labels: dict[str, list[str]], limit: int | None = None) -> list[LabelledPair]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"labelled data not found: {path}")
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            pairs.append(parse_pair(record, f"{path}:{number}", labels))
            if limit and len(pairs) >= limit:
                break
    if not pairs:
        raise DataError(f"{path} holds no labelled pairs")
    return pairs


def read_source(source: DataSource, labels: dict[str, list[str]]) -> list[LabelledPair]:
    """Pairs of one configured set, with its weight, and labels kept only for its tasks."""
    pairs = read_pairs(source.path, labels, source.limit)
    for pair in pairs:
        pair.weight = source.weight
        pair.labels = {task: (value if task in source.tasks else None) for task, value in pair.labels.items()}
    return pairs


def describe_source(source: DataSource, pairs: list[LabelledPair]) -> dict:
    """What the bundle records about a training set (enough to find it and check it is the same)."""
    digest = hashlib.sha256(Path(source.path).read_bytes()).hexdigest()[:16]
    counts = {task: dict(Counter(p.labels[task] for p in pairs if p.labels[task])) for task in TASKS}
    return {**source.model_dump(), "n_pairs": len(pairs), "sha256": digest, "label_counts": counts}


@dataclass
class LabelledDyad:
    """A directed (source, target) actor pair of one sentence with its relation label."""

    id: str
    text: str
    source_spans: tuple[tuple[int, int], ...]
    target_spans: tuple[tuple[int, int], ...]
    label: str
    weight: float = 1.0
    meta: dict = field(default_factory=dict)

    def model_input(self) -> DyadInput:
        return DyadInput(self.text, self.source_spans, self.target_spans)


def derive_dyads(pairs: list[LabelledPair], labels: list[str]) -> list[LabelledDyad]:
    """Dyads of the sets that annotate them; the last relation label means 'no relation'.

    - the shipped corpus: every ordered pair of distinct actors of a sentence, labelled by the
      source actor's `meta.relations` (absent = no relation);
    - CAMEO-coded pairs (`meta.role == "source"` with a `meta.dyad_partner`): source -> target,
      labelled by the coded event's stance (a neutral statement = no relation).
    """
    none = no_relation(labels)
    dyads: list[LabelledDyad] = []
    sentences: dict[tuple, list[LabelledPair]] = {}
    for pair in pairs:
        meta = pair.meta
        if "relations" in meta and meta.get("actor_id"):
            sentences.setdefault((meta.get("doc_id"), meta.get("sentence_index")), []).append(pair)
        elif meta.get("role") == "source" and isinstance(meta.get("dyad_partner"), dict) and pair.labels.get("stance"):
            partner = meta["dyad_partner"]
            label = pair.labels["stance"] if pair.labels["stance"] in labels else none
            dyads.append(LabelledDyad(f"{pair.id}:dyad", pair.text, pair.spans,
                                      ((partner["start"], partner["end"]),), label, pair.weight))
    for members in sentences.values():
        related = {(member.meta["actor_id"], r["target"]): r["relation"]  # a pair lists its actor's relations
                   for member in members for r in member.meta["relations"]}
        for source, target in permutations(members, 2):
            label = related.get((source.meta["actor_id"], target.meta["actor_id"]), none)
            dyads.append(LabelledDyad(
                f"{source.id}->{target.meta['actor_id']}", source.text, source.spans, target.spans,
                label if label in labels else none, source.weight,
                {"doc_id": source.meta.get("doc_id"), "sentence_index": source.meta.get("sentence_index"),
                 "source_id": source.meta["actor_id"], "target_id": target.meta["actor_id"],
                 "source_stance": source.labels.get("stance"), "target_stance": target.labels.get("stance")},
            ))
    return dyads
