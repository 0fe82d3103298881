"""The model bundle's metadata, readable without torch (the ONNX backends use it too).

A bundle is a directory with fixed file names:

- `model.safetensors`: every weight (encoder and heads); loading never unpickles anything
- `config.json`: the encoder architecture (so no base model is needed to load)
- tokenizer files, with the marker tokens
- `model.json`: label lists, encoding settings, pooling, temperatures and confidence maps, base model, versions
- written by training next to them: `train_config.yaml`, `metrics.json`, `train_log.jsonl`, `README.md`
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from .encoding import EncodingSettings
from .errors import BundleError

BUNDLE_FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
MODEL_JSON = "model.json"
ENCODER_CONFIG = "config.json"


@dataclass
class ModelInfo:
    """The content of model.json."""

    labels: dict[str, list[str]]
    encoding: EncodingSettings
    pooling: str = "cls_marker"
    dropout: float = 0.1
    base_model: str = ""
    temperatures: dict[str, float] = field(default_factory=dict)
    confidence_maps: dict[str, list[float]] = field(default_factory=dict)  # per head: beta map (a, b, m)
    training_data: list[dict] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    model_id: str = ""
    format_version: int = BUNDLE_FORMAT_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        data["encoding"] = self.encoding.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelInfo:
        data = dict(data)
        data["encoding"] = EncodingSettings.from_dict(data["encoding"])
        return cls(**data)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("actorstance", "torch", "transformers", "tokenizers", "safetensors"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(path: Path) -> str:
    return file_sha256(path)[:12]


def read_model_info(directory: str | Path, required: tuple[str, ...] = (WEIGHTS_NAME, ENCODER_CONFIG)) -> ModelInfo:
    """model.json of a bundle, after checking the bundle's files and format version."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"model bundle {directory} does not exist; train one with `actorstance train CONFIG`")
    for name in (MODEL_JSON, *required):
        if not (directory / name).is_file():
            raise BundleError(f"model bundle {directory} is incomplete: {name} is missing")
    try:
        raw = json.loads((directory / MODEL_JSON).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BundleError(f"{directory / MODEL_JSON} is not valid JSON ({err})") from None
    version = raw.get("format_version")
    if version != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"model bundle {directory} has format version {version!r}; this actorstance reads version "
            f"{BUNDLE_FORMAT_VERSION}: retrain it or use the actorstance version that wrote it"
        )
    try:
        return ModelInfo.from_dict(raw)
    except (TypeError, KeyError) as err:
        raise BundleError(f"{directory / MODEL_JSON}: unexpected content ({err})") from None
