"""Local batch scoring: documents -> sentences -> actor pairs -> predictions -> rows.

Every input row ends up scored (one output row per sentence and actor) or in the rejects file with
a reason code; the run summary counts both, and `rows_read == rows_scored + rows_rejected`.
Input is processed in chunks of `input.chunk_size` rows, so memory stays flat on any corpus size.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from .actors import ActorDictionary
from .config import ScoreConfig
from .encoding import PairInput
from .errors import InputError
from .io import RawRow, RowWriter, detect_format, read_rows, write_json
from .segment import split_sentences


@dataclass
class Reject:
    row_number: int
    reason: str
    message: str
    row: object

    def to_dict(self) -> dict:
        return {"row_number": self.row_number, "reason": self.reason, "message": self.message, "row": self.row}


@dataclass
class ScoredPair:
    """A (document, sentence, actor) pair waiting for its prediction."""

    doc_id: str
    sentence_index: int
    sentence_start: int
    sentence_end: int
    sentence: str
    actor_id: str
    actor_name: str
    actor_type: str
    mentions: list[dict]
    extra: dict

    def model_input(self) -> PairInput:
        spans = tuple((m["start"] - self.sentence_start, m["end"] - self.sentence_start) for m in self.mentions)
        return PairInput(self.sentence, spans, self.actor_type)


@dataclass
class RunSummary:
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    sentences: int = 0
    pairs: int = 0
    output: str = ""
    rejects: str = ""
    model_id: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_scored": self.rows_scored,
            "rows_rejected": self.rows_rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "sentences": self.sentences,
            "pairs": self.pairs,
            "pairs_per_second": round(self.pairs / self.seconds, 1) if self.seconds else None,
            "seconds": round(self.seconds, 2),
            "output": self.output,
            "rejects": self.rejects,
            "model_id": self.model_id,
        }


def output_schema(labels: dict[str, list[str]], keep_fields: Iterable[str]) -> pa.Schema:
    mention = pa.struct([("text", pa.string()), ("start", pa.int64()), ("end", pa.int64())])
    fields = [
        ("doc_id", pa.string()), ("sentence_index", pa.int64()), ("sentence_start", pa.int64()),
        ("sentence_end", pa.int64()), ("sentence", pa.string()), ("actor_id", pa.string()),
        ("actor_name", pa.string()), ("actor_type", pa.string()), ("mentions", pa.list_(mention)),
    ]
    for task, names in labels.items():
        fields.append((task, pa.string()))
        fields.append((f"{task}_probs", pa.struct([(name, pa.float64()) for name in names])))
    fields.append(("model_id", pa.string()))
    fields.extend((name, pa.string()) for name in keep_fields)
    return pa.schema(fields)


class DocumentPairer:
    """Turns document records into pairs, or a reject reason; tracks duplicate ids."""

    def __init__(self, config: ScoreConfig, dictionary: ActorDictionary | None):
        self.input = config.input
        self.segmentation = config.segmentation
        self.dictionary = dictionary
        self.seen_ids: set[str] = set()

    def _doc_id(self, record: dict) -> tuple[str | None, tuple[str, str] | None]:
        doc_id = record.get(self.input.id_field)
        if doc_id is None or (isinstance(doc_id, str) and not doc_id.strip()):
            return None, ("missing_id", f"field {self.input.id_field!r} is missing or empty")
        if isinstance(doc_id, (dict, list, bool)):
            kind = type(doc_id).__name__
            return None, ("bad_id", f"field {self.input.id_field!r} must be a string or number, got {kind}")
        doc_id = str(doc_id)
        if doc_id in self.seen_ids:
            return None, ("duplicate_id", f"id {doc_id!r} was already seen in this input")
        return doc_id, None

    def _text(self, record: dict) -> tuple[str | None, tuple[str, str] | None]:
        text = record.get(self.input.text_field)
        if text is None:
            return None, ("missing_text", f"field {self.input.text_field!r} is missing")
        if not isinstance(text, str):
            return None, ("non_string_text", f"field {self.input.text_field!r} is {type(text).__name__}, not a string")
        if not text.strip():
            return None, ("empty_text", f"field {self.input.text_field!r} is empty")
        return text, None

    def extra(self, record: dict) -> dict:
        return {name: None if record.get(name) is None else str(record.get(name)) for name in self.input.keep_fields}

    def pairs(self, row: RawRow) -> tuple[list[ScoredPair], tuple[str, str] | None]:
        if row.error:
            return [], row.error
        record = row.record
        doc_id, error = self._doc_id(record)
        if error:
            return [], error
        text, error = self._text(record)
        if error:
            return [], error
        self.seen_ids.add(doc_id)
        if self.input.kind == "pairs":
            return self._annotated_pair(doc_id, text, record)
        return self._document_pairs(doc_id, text, record)

    def _document_pairs(self, doc_id: str, text: str, record: dict) -> tuple[list[ScoredPair], tuple[str, str] | None]:
        sentences = split_sentences(text, self.segmentation.language, self.segmentation.max_sentence_chars)
        mentions = self.dictionary.find(text)
        extra = self.extra(record)
        pairs: list[ScoredPair] = []
        cursor = 0
        for sentence in sentences:
            by_actor: dict[str, list[dict]] = {}
            while cursor < len(mentions) and mentions[cursor].start < sentence.end:
                mention = mentions[cursor]
                cursor += 1
                if mention.start >= sentence.start and mention.end <= sentence.end:
                    by_actor.setdefault(mention.actor_id, []).append(
                        {"text": mention.text, "start": mention.start, "end": mention.end}
                    )
            for actor_id, actor_mentions in by_actor.items():
                pairs.append(ScoredPair(
                    doc_id, sentence.index, sentence.start, sentence.end, sentence.text, actor_id,
                    self.dictionary.name(actor_id), self.dictionary.type(actor_id), actor_mentions, extra,
                ))
        if not pairs:
            return [], ("no_actor", f"no actor of the dictionary was found in {len(sentences)} sentence(s)")
        return pairs, None

    def _annotated_pair(self, doc_id: str, text: str, record: dict) -> tuple[list[ScoredPair], tuple[str, str] | None]:
        actor = record.get("actor")
        if not isinstance(actor, dict):
            return [], ("missing_actor", "pairs input needs an 'actor' object with text, start, end")
        start, end = actor.get("start"), actor.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            return [], ("bad_span", f"actor span ({start}, {end}) is not inside the text of length {len(text)}")
        if actor.get("text") is not None and text[start:end] != actor["text"]:
            return [], ("bad_span", f"text[{start}:{end}] is {text[start:end]!r}, not {actor['text']!r}")
        actor_id = str(actor.get("id") or text[start:end])
        mention = [{"text": text[start:end], "start": start, "end": end}]
        pair = ScoredPair(doc_id, 0, 0, len(text), text, actor_id, str(actor.get("name") or text[start:end]),
                          str(actor.get("type") or "other"), mention, self.extra(record))
        return [pair], None


def _chunks(rows: Iterator[RawRow], size: int) -> Iterator[list[RawRow]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def default_side_path(output: str, suffix: str) -> str:
    path = Path(output)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return str(path.with_name(f"{stem}.{suffix}"))


def load_predictor(config: ScoreConfig):
    """The model behind the configured backend: anything with `.info` and `.predict(pairs)`."""
    scoring = config.scoring
    if scoring.backend == "torch":
        from .predict import Predictor

        return Predictor.from_bundle(config.model, scoring.batch_size, scoring.threads)
    from .onnx_backend import OnnxPredictor

    return OnnxPredictor.from_bundle(config.model, quantized=scoring.backend == "onnx-int8",
                                     batch_size=scoring.batch_size, threads=scoring.threads)


def check_paths(config: ScoreConfig) -> str:
    """Fail before any heavy work when the input cannot be read; returns the input format."""
    fmt = detect_format(config.input.path, config.input.format)
    detect_format(config.output.path)
    if not Path(config.input.path).is_file():
        raise InputError(f"input.path: file not found: {config.input.path}")
    return fmt


def score(config: ScoreConfig, show_progress: bool = True) -> RunSummary:
    """Score `config.input` into `config.output`; returns (and writes) the run summary."""
    if config.scoring.engine == "ray":
        from .ray_engine import score_with_ray

        return score_with_ray(config, show_progress)
    fmt = check_paths(config)
    dictionary = ActorDictionary.from_paths(config.actors.paths) if config.input.kind == "documents" else None
    predictor = load_predictor(config)
    info = predictor.info
    pairer = DocumentPairer(config, dictionary)
    rejects_path = config.output.rejects_path or default_side_path(config.output.path, "rejects.jsonl")
    summary_path = config.output.summary_path or default_side_path(config.output.path, "summary.json")
    summary = RunSummary(output=config.output.path, rejects=rejects_path, model_id=info.model_id)
    schema = output_schema(info.labels, config.input.keep_fields)
    started = time.perf_counter()
    progress = tqdm(desc="scoring", unit=" docs", disable=not show_progress)
    with RowWriter(config.output.path, schema) as writer, RowWriter(rejects_path) as rejects:
        for chunk in _chunks(read_rows(config.input.path, fmt), config.input.chunk_size):
            pairs: list[ScoredPair] = []
            rejected: list[Reject] = []
            for row in chunk:
                row_pairs, error = pairer.pairs(row)
                if error:
                    rejected.append(Reject(row.number, error[0], error[1], row.raw))
                    summary.rejected_by_reason[error[0]] += 1
                else:
                    pairs.extend(row_pairs)
                    summary.rows_scored += 1
                    summary.sentences += len({p.sentence_index for p in row_pairs})
            summary.rows_read += len(chunk)
            summary.rows_rejected += len(rejected)
            summary.pairs += len(pairs)
            writer.write(_rows(pairs, predictor.predict([p.model_input() for p in pairs]), info.labels, info.model_id))
            rejects.write([r.to_dict() for r in rejected])
            progress.update(len(chunk))
        progress.close()
        if summary.rows_read == 0:
            raise InputError(f"input.path: {config.input.path} has no rows")
    summary.seconds = time.perf_counter() - started
    write_json(summary_path, summary.to_dict())
    return summary


def _rows(pairs: list[ScoredPair], probs: dict, labels: dict[str, list[str]], model_id: str) -> list[dict]:
    rows = []
    for i, pair in enumerate(pairs):
        row = {
            "doc_id": pair.doc_id, "sentence_index": pair.sentence_index, "sentence_start": pair.sentence_start,
            "sentence_end": pair.sentence_end, "sentence": pair.sentence, "actor_id": pair.actor_id,
            "actor_name": pair.actor_name, "actor_type": pair.actor_type, "mentions": pair.mentions,
        }
        for task, names in labels.items():
            p = probs[task][i]
            row[task] = names[int(p.argmax())]
            row[f"{task}_probs"] = {name: float(p[j]) for j, name in enumerate(names)}
        row["model_id"] = model_id
        row.update(pair.extra)
        rows.append(row)
    return rows
