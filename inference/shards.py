"""Where scored rows go: one file, or a directory of shards that a rerun resumes.

`output.shards: true` makes `output.path` a directory with one part per input chunk and a manifest:

```
scored.parquet/
  manifest.json                 input fingerprint, model id, config hash, rows per shard, status per shard, totals
  part-00000.parquet            scored rows of input rows 1-500 (chunk_size 500)
  part-00000.rejects.jsonl      rejects of the same rows
  ...
```

Each part is written under a temporary name and renamed, then the manifest is replaced atomically, so
a killed run leaves only finished shards in the manifest; the next run with the same input, model and
config skips them and redoes the rest. A run with another input, model or config refuses to mix its
shards with those, unless told to overwrite. The summary is written once every shard is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from .actors import ActorDictionary
from .bundle import ModelInfo
from .config import ScoreConfig
from .errors import InputError
from .io import RowWriter, write_json
from .labels import RELATION
from .relations import relation_schema
from .score import (
    COUNT_FIELDS,
    Reject,
    RunSummary,
    add_counts,
    chunk_rows,
    default_side_path,
    output_schema,
    relations_enabled,
)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_COUNTS = (*COUNT_FIELDS, "rejected_by_reason")
_MIB = 1 << 20


def open_output(
    config: ScoreConfig, info: ModelInfo, dictionary: ActorDictionary | None, overwrite: bool = False,
    show_progress: bool = False,
) -> PlainOutput | ShardedOutput:
    if config.output.shards:
        return ShardedOutput(config, info, dictionary, overwrite, show_progress)
    return PlainOutput(config, info, show_progress)


class PlainOutput:
    """One rows file and one rejects file, renamed into place only when the whole input is scored."""

    done: frozenset[int] = frozenset()

    def __init__(self, config: ScoreConfig, info: ModelInfo, show_progress: bool):
        self.input_path = config.input.path
        rejects_path = config.output.rejects_path or default_side_path(config.output.path, "rejects.jsonl")
        self.summary_path = config.output.summary_path or default_side_path(config.output.path, "summary.json")
        self.summary = RunSummary(output=config.output.path, rejects=rejects_path, model_id=info.model_id)
        self.rows = RowWriter(config.output.path, output_schema(info.labels, config.input.keep_fields))
        self.rejects = RowWriter(rejects_path)
        self.relations = None
        if relations_enabled(config, info):
            suffix = Path(config.output.path).suffix
            path = config.output.relations_path or default_side_path(config.output.path, f"relations{suffix}")
            self.relations = RowWriter(path, relation_schema(info.labels[RELATION], config.input.keep_fields))
        self.progress = tqdm(desc="scoring", unit=" docs", disable=not show_progress)
        self.started = time.perf_counter()

    def write(self, index: int, rows: list[dict], rejects: list[Reject], counts: RunSummary,
              relations: list[dict]) -> None:
        self.rows.write(rows)
        self.rejects.write([r.to_dict() for r in rejects])
        if self.relations is not None:
            self.relations.write(relations)
        add_counts(self.summary, counts)
        self.progress.update(counts.rows_read)

    def finish(self) -> RunSummary:
        """Commit the files and write the summary; called once every chunk is written."""
        if self.summary.rows_read == 0:
            raise InputError(f"input.path: {self.input_path} has no rows")
        self.progress.close()
        self.rows.close()
        self.rejects.close()
        if self.relations is not None:
            self.relations.close()
        self.summary.seconds = time.perf_counter() - self.started
        write_json(self.summary_path, self.summary.to_dict())
        return self.summary

    def __enter__(self) -> PlainOutput:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self.progress.close()
            self.rows.close(ok=False)
            self.rejects.close(ok=False)
            if self.relations is not None:
                self.relations.close(ok=False)


class ShardedOutput:
    """A directory of part files plus manifest.json; `done` holds the shards a previous run finished."""

    def __init__(self, config: ScoreConfig, info: ModelInfo, dictionary: ActorDictionary | None, overwrite: bool,
                 show_progress: bool):
        self.directory = Path(config.output.path)
        self.suffix = self.directory.suffix
        self.schema = output_schema(info.labels, config.input.keep_fields)
        self.relation_schema = (relation_schema(info.labels[RELATION], config.input.keep_fields)
                                if relations_enabled(config, info) else None)
        self.summary_path = config.output.summary_path or default_side_path(config.output.path, "summary.json")
        self.model_id = info.model_id
        self.input_path = config.input.path
        identity = {
            "input": input_fingerprint(config.input.path),
            "model_id": info.model_id,
            "config_hash": config_hash(config, dictionary),
            "rows_per_shard": chunk_rows(config),
        }
        if self.directory.is_file():
            raise InputError(f"output.path: {self.directory} is a file; sharded output (output.shards) is a directory")
        manifest = self._read_manifest()
        if manifest and not overwrite:
            changed = [key for key, value in identity.items() if manifest.get(key) != value]
            if changed:
                raise InputError(
                    f"output.path: {self.directory} holds shards of another run ({', '.join(changed)} changed); "
                    "pass --overwrite to discard them, or choose another output.path"
                )
        if manifest is None or overwrite:
            self._clear()
            manifest = {"format_version": MANIFEST_VERSION, **identity, "complete": False, "shards": {}}
            self.directory.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self.done = frozenset(int(index) for index, shard in manifest["shards"].items() if shard["status"] == "done")
        resumed = sum(shard["rows_read"] for shard in manifest["shards"].values())
        self.progress = tqdm(desc="scoring", unit=" docs", disable=not show_progress, initial=resumed)
        self.last = time.perf_counter()

    def _read_manifest(self) -> dict | None:
        path = self.directory / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:  # written atomically, so only a person or another tool breaks it
            raise InputError(f"{path} is not valid JSON ({err}); pass --overwrite to start again") from None
        if manifest.get("format_version") != MANIFEST_VERSION:
            raise InputError(f"{path} has format version {manifest.get('format_version')!r}, not {MANIFEST_VERSION}; "
                             "pass --overwrite to start again")
        return manifest

    def _clear(self) -> None:
        """Remove what an earlier run wrote here (parts, temporaries, manifest); nothing else is touched."""
        if self.directory.is_dir():
            for path in self.directory.glob("part-*"):
                path.unlink()
            (self.directory / MANIFEST).unlink(missing_ok=True)
        Path(self.summary_path).unlink(missing_ok=True)

    def write(self, index: int, rows: list[dict], rejects: list[Reject], counts: RunSummary,
              relations: list[dict]) -> None:
        part = f"part-{index:05d}"
        files = [f"{part}{self.suffix}", f"{part}.rejects.jsonl"]
        with RowWriter(self.directory / files[0], self.schema) as writer:
            writer.write(rows)
        with RowWriter(self.directory / files[1]) as writer:
            writer.write([r.to_dict() for r in rejects])
        if self.relation_schema is not None:
            files.append(f"{part}.relations{self.suffix}")
            with RowWriter(self.directory / files[2], self.relation_schema) as writer:
                writer.write(relations)
        now = time.perf_counter()
        counts.seconds, self.last = now - self.last, now
        self.manifest["shards"][f"{index:05d}"] = {
            "status": "done", "files": files,
            **{key: getattr(counts, key) for key in _COUNTS},
        }
        write_json(self.directory / MANIFEST, self.manifest)
        self.progress.update(counts.rows_read)

    def finish(self) -> RunSummary:
        """Totals over all shards (this run's and earlier ones'); called once every chunk is done."""
        self.progress.close()
        summary = RunSummary(output=str(self.directory), rejects=str(self.directory / "part-*.rejects.jsonl"),
                             model_id=self.model_id)
        for shard in self.manifest["shards"].values():
            add_counts(summary, _shard_counts(shard))
        if summary.rows_read == 0:
            raise InputError(f"input.path: {self.input_path} has no rows")
        self.manifest.update(complete=True, totals=summary.to_dict())
        write_json(self.directory / MANIFEST, self.manifest)
        write_json(self.summary_path, summary.to_dict())
        return summary

    def __enter__(self) -> ShardedOutput:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.progress.close()


def _shard_counts(shard: dict) -> RunSummary:
    return RunSummary(**{key: shard[key] for key in COUNT_FIELDS},
                      rejected_by_reason=Counter(shard["rejected_by_reason"]))


def input_fingerprint(path: str | Path) -> dict:
    """Size, mtime and a SHA-256 of the first and last MiB (of everything, for files up to 2 MiB)."""
    stat = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if stat.st_size <= 2 * _MIB:
            digest.update(handle.read())
        else:
            digest.update(handle.read(_MIB))
            handle.seek(-_MIB, os.SEEK_END)
            digest.update(handle.read())
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}


def config_hash(config: ScoreConfig, dictionary: ActorDictionary | None) -> str:
    """Hash of what decides the rows of a shard: input reading, segmentation, backend and precision, relations,
    actor dictionary.

    Paths, batch sizes, threads and the engine are left out: they change where and how fast, not what.
    """
    relevant = config.model_dump(mode="json", include={
        "input": {"format", "kind", "id_field", "text_field", "keep_fields"},
        "segmentation": True,
        "scoring": {"backend", "precision", "relations", "max_dyads_per_sentence"},
    })
    if dictionary is not None:
        relevant["actors"] = {
            "actors": sorted([actor.id, actor.name, actor.type] for actor in dictionary.actors.values()),
            "aliases": sorted((alias, list(target)) for alias, target in dictionary.aliases.items()),
            "ignored": sorted(dictionary.ignored),
        }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]
