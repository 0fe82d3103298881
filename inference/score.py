"""Local batch scoring: documents -> sentences -> actor pairs -> predictions -> rows.

Every input row ends up scored (one output row per sentence and actor) or in the rejects file with
a reason code; the run summary counts both, and `rows_read == rows_scored + rows_rejected`.
Input is processed in chunks of `input.chunk_size` rows, so memory stays flat on any corpus size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pyarrow as pa

from .actors import ActorDictionary
from .config import ScoreConfig
from .encoding import PairInput
from .errors import InputError
from .io import RawRow, detect_format, read_rows
from .labels import RELATION, TASKS
from .relations import relation_rows, sentence_dyads
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

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The mentions' offsets within the sentence."""
        return tuple((m["start"] - self.sentence_start, m["end"] - self.sentence_start) for m in self.mentions)

    def model_input(self) -> PairInput:
        return PairInput(self.sentence, self.spans(), self.actor_type)


@dataclass
class RunSummary:
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    sentences: int = 0
    pairs: int = 0
    dyads: int = 0
    dyads_skipped: int = 0
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
            "dyads": self.dyads,
            "dyads_skipped": self.dyads_skipped,
            "pairs_per_second": round(self.pairs / self.seconds, 1) if self.seconds else None,
            "seconds": round(self.seconds, 2),
            "output": self.output,
            "rejects": self.rejects,
            "model_id": self.model_id,
        }


# the summed counters of a summary (shards store them too); rejected_by_reason is a Counter, summed apart
COUNT_FIELDS = ("rows_read", "rows_scored", "rows_rejected", "sentences", "pairs", "dyads", "dyads_skipped", "seconds")


def output_schema(labels: dict[str, list[str]], keep_fields: Iterable[str]) -> pa.Schema:
    mention = pa.struct([("text", pa.string()), ("start", pa.int64()), ("end", pa.int64())])
    fields = [
        ("doc_id", pa.string()), ("sentence_index", pa.int64()), ("sentence_start", pa.int64()),
        ("sentence_end", pa.int64()), ("sentence", pa.string()), ("actor_id", pa.string()),
        ("actor_name", pa.string()), ("actor_type", pa.string()), ("mentions", pa.list_(mention)),
    ]
    for task in TASKS:  # per-actor tasks; relations go to their own table
        names = labels[task]
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

    def doc_id(self, record: dict) -> tuple[str | None, tuple[str, str] | None]:
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

    def text(self, record: dict) -> tuple[str | None, tuple[str, str] | None]:
        text = record.get(self.input.text_field)
        if text is None:
            return None, ("missing_text", f"field {self.input.text_field!r} is missing")
        if not isinstance(text, str):
            return None, ("non_string_text", f"field {self.input.text_field!r} is {type(text).__name__}, not a string")
        if not text.strip():
            return None, ("empty_text", f"field {self.input.text_field!r} is empty")
        return text, None

    def validate(self, record: dict) -> tuple[str | None, str | None, tuple[str, str] | None]:
        """(doc_id, text, None) for a usable row, whose id then counts as seen; else (None, None, error)."""
        doc_id, error = self.doc_id(record)
        if error:
            return None, None, error
        text, error = self.text(record)
        if error:
            return None, None, error
        self.seen_ids.add(doc_id)
        return doc_id, text, None

    def extra(self, record: dict) -> dict:
        return {name: None if record.get(name) is None else str(record.get(name)) for name in self.input.keep_fields}

    def pairs(self, row: RawRow) -> tuple[list[ScoredPair], tuple[str, str] | None]:
        if row.error:
            return [], row.error
        record = row.record
        doc_id, text, error = self.validate(record)
        if error:
            return [], error
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

        return Predictor.from_bundle(config.model, scoring.batch_size, scoring.threads, scoring.device,
                                     scoring.precision)
    if scoring.backend == "openvino-int8":
        from .openvino_backend import OpenVinoPredictor

        return OpenVinoPredictor.from_bundle(config.model, batch_size=scoring.batch_size, threads=scoring.threads)
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


def load_dictionary(config: ScoreConfig) -> ActorDictionary | None:
    """The actor dictionary documents are matched against; pre-annotated pairs need none."""
    return ActorDictionary.from_paths(config.actors.paths) if config.input.kind == "documents" else None


def chunk_rows(config: ScoreConfig) -> int:
    """Input rows per chunk: the unit that is scored, written and (with output.shards) resumed."""
    return config.scoring.ray.batch_size if config.scoring.engine == "ray" else config.input.chunk_size


def mark_duplicates(rows: Iterable[RawRow], config: ScoreConfig) -> Iterator[RawRow]:
    """`rows`, with the `duplicate_id` error set on every repeat of an id, found without segmenting any text.

    An id counts as seen once its row has a valid id and text (`DocumentPairer.validate`); marking repeats
    while streaming the input lets chunks be scored in parallel, or skipped on resume, and the first
    occurrence still wins.
    """
    ids = DocumentPairer(config, None)
    for row in rows:
        if row.error is None:
            error = ids.validate(row.record)[2]
            if error and error[0] == "duplicate_id":
                row.error = error
        yield row


def input_chunks(config: ScoreConfig, fmt: str, skip: Collection[int] = ()) -> Iterator[tuple[int, list[RawRow]]]:
    """(index, rows) of every input chunk whose index is not in `skip`; skipped rows still count for duplicates."""
    rows = mark_duplicates(read_rows(config.input.path, fmt), config)
    for index, chunk in enumerate(_chunks(rows, chunk_rows(config))):
        if index not in skip:
            yield index, chunk


def score_chunk(
    config: ScoreConfig, dictionary: ActorDictionary | None, predictor, chunk: list[RawRow]
) -> tuple[list[dict], list[Reject], RunSummary, list[dict]]:
    """Scored rows, rejects, counts and relation rows of one chunk whose repeated ids are marked (`mark_duplicates`)."""
    pairer = DocumentPairer(config, dictionary)
    counts = RunSummary(rows_read=len(chunk))
    pairs: list[ScoredPair] = []
    rejects: list[Reject] = []
    for row in chunk:
        row_pairs, error = pairer.pairs(row)
        if error:
            rejects.append(Reject(row.number, error[0], error[1], row.raw))
            counts.rejected_by_reason[error[0]] += 1
        else:
            pairs.extend(row_pairs)
            counts.rows_scored += 1
            counts.sentences += len({p.sentence_index for p in row_pairs})
    counts.rows_rejected = len(rejects)
    counts.pairs = len(pairs)
    info = predictor.info
    rows = _rows(pairs, predictor.predict([p.model_input() for p in pairs]), info.labels, info.model_id)
    relations: list[dict] = []
    if config.scoring.relations:  # already off when the model has no relation head (`relations_enabled`)
        dyads, counts.dyads_skipped = sentence_dyads(pairs, config.scoring.max_dyads_per_sentence)
        counts.dyads = len(dyads)
        probs = predictor.predict_relations([d.model_input() for d in dyads])
        relations = relation_rows(dyads, probs, info.labels[RELATION], info.model_id)
    return rows, rejects, counts, relations


def relations_enabled(config: ScoreConfig, info) -> bool:
    """Relations are scored when asked for and the model has a relation head (every backend runs it)."""
    return config.scoring.relations and RELATION in info.labels


def without_relations(config: ScoreConfig) -> ScoreConfig:
    """The config with the relations table turned off (so that no empty table is written)."""
    return config.model_copy(update={"scoring": config.scoring.model_copy(update={"relations": False})})


def add_counts(total: RunSummary, part: RunSummary) -> None:
    """Add the counts (and seconds) of a chunk or shard to a run's summary."""
    for name in COUNT_FIELDS:
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.rejected_by_reason.update(part.rejected_by_reason)


def score(config: ScoreConfig, show_progress: bool = True, overwrite: bool = False) -> RunSummary:
    """Score `config.input` into `config.output`; returns (and writes) the run summary.

    With `output.shards` a rerun resumes where the last one stopped; `overwrite` starts again instead of
    refusing when the shards there came from another input, model or config.
    """
    if config.scoring.engine == "ray":
        from .ray_engine import score_with_ray

        return score_with_ray(config, show_progress, overwrite)
    from .shards import open_output  # shards builds on this module

    fmt = check_paths(config)
    dictionary = load_dictionary(config)
    predictor = load_predictor(config)
    if not relations_enabled(config, predictor.info):  # no relation head: no empty table
        config = without_relations(config)
    with open_output(config, predictor.info, dictionary, overwrite, show_progress) as output:
        for index, chunk in input_chunks(config, fmt, output.done):
            output.write(index, *score_chunk(config, dictionary, predictor, chunk))
        return output.finish()


def _rows(pairs: list[ScoredPair], probs: dict, labels: dict[str, list[str]], model_id: str) -> list[dict]:
    # labels and probabilities as Python values per task once, not per pair
    best = {task: probs[task].argmax(axis=1).tolist() for task in TASKS}
    values = {task: probs[task].tolist() for task in TASKS}
    rows = []
    for i, pair in enumerate(pairs):
        row = {
            "doc_id": pair.doc_id, "sentence_index": pair.sentence_index, "sentence_start": pair.sentence_start,
            "sentence_end": pair.sentence_end, "sentence": pair.sentence, "actor_id": pair.actor_id,
            "actor_name": pair.actor_name, "actor_type": pair.actor_type, "mentions": pair.mentions,
        }
        for task in TASKS:
            row[task] = labels[task][best[task][i]]
            row[f"{task}_probs"] = dict(zip(labels[task], values[task][i], strict=True))
        row["model_id"] = model_id
        row.update(pair.extra)
        rows.append(row)
    return rows
