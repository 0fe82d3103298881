"""Streaming readers (JSONL, CSV, Parquet) and atomic writers for rows and rejects.

Readers yield every input row, good or bad, with its 1-based row number, so that the caller can
send each bad row to the rejects file with a reason instead of dropping it. Writers write to a
temporary name and rename on success, so a crash never leaves a file that looks complete.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError

FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
}


def detect_format(path: str | Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the format of {path} from its extension {suffix!r}; "
            f"use one of {sorted(set(FORMATS))} or set the format in the config"
        )
    return FORMATS[suffix]


@dataclass
class RawRow:
    """One input row: `record` is the parsed mapping, or None with `error` saying why not."""

    number: int
    record: dict | None
    raw: Any
    error: tuple[str, str] | None = None  # (reason code, message)


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as err:
                yield RawRow(number, None, line.decode("utf-8", "replace").rstrip("\n"),
                             ("invalid_utf8", f"bytes are not UTF-8 at position {err.start}"))
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                error = ("bad_json", f"not valid JSON: {err.msg} at column {err.colno}")
                yield RawRow(number, None, text.rstrip("\n"), error)
                continue
            if not isinstance(record, dict):
                error = ("not_an_object", f"expected a JSON object, got {type(record).__name__}")
                yield RawRow(number, None, text.rstrip("\n"), error)
                continue
            yield RawRow(number, record, text.rstrip("\n"))


def _read_csv(path: Path) -> Iterator[RawRow]:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        for number, values in enumerate(reader, 2):
            raw = dict(zip(header, values, strict=False))
            if any(any(0xDC80 <= ord(ch) <= 0xDCFF for ch in v) for v in values):
                yield RawRow(number, None, ",".join(v.encode("utf-8", "replace").decode() for v in values),
                             ("invalid_utf8", "row contains bytes that are not UTF-8"))
            elif len(values) != len(header):
                kind = "missing_columns" if len(values) < len(header) else "extra_columns"
                yield RawRow(number, None, values, (kind, f"{len(values)} fields, header has {len(header)}"))
            else:
                yield RawRow(number, raw, raw)


def _read_parquet(path: Path) -> Iterator[RawRow]:
    try:
        parquet = pq.ParquetFile(path)
    except pa.ArrowException as err:
        raise InputError(f"{path} is not a readable Parquet file ({err})") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            number += 1
            yield RawRow(number, record, record)


def read_rows(path: str | Path, fmt: str = "auto") -> Iterator[RawRow]:
    """Every row of a JSONL, CSV or Parquet file, streamed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    fmt = detect_format(path, fmt)
    return {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}[fmt](path)


# ---------------------------------------------------------------- writers


class AtomicFile:
    """Write to `<path>.partial`, rename to `path` on commit; discarded on failure."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temp = self.path.with_name(self.path.name + ".partial")

    def commit(self) -> None:
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


class RowWriter:
    """Streams rows (dicts) to JSONL, CSV or Parquet; nested values become JSON strings in CSV."""

    def __init__(self, path: str | Path, schema: pa.Schema | None = None):
        self.file = AtomicFile(path)
        self.format = detect_format(path)
        self.schema = schema
        self.count = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv = None
        self._handle = None
        if self.format == "parquet":
            if schema is None:
                raise ValueError("a Parquet writer needs a schema")
            self._parquet = pq.ParquetWriter(self.file.temp, schema)
        else:
            self._handle = open(self.file.temp, "w", encoding="utf-8", newline="")

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.count += len(rows)
        if self._parquet is not None:
            self._parquet.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        elif self.format == "csv":
            if self._csv is None:
                self._csv = csv.DictWriter(self._handle, fieldnames=list(rows[0]))
                self._csv.writeheader()
            self._csv.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
        else:
            self._handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))

    def close(self, ok: bool = True) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()
        if ok:
            self.file.commit()
        else:
            self.file.discard()

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.close(ok=exc_type is None)


def _csv_value(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically."""
    target = AtomicFile(path)
    target.temp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    target.commit()
