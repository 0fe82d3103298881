"""Train -> save -> load -> predict on the tiny random-init encoder."""

import json
import shutil

import numpy as np
import pytest
import torch

from inference.calibration import calibrated
from inference.encoding import PairInput
from inference.errors import BundleError
from inference.model import load_bundle
from inference.predict import Predictor

PAIRS = [
    PairInput("Russia and Ukraine signed a grain export deal.", ((0, 6),)),
    PairInput("Russia and Ukraine signed a grain export deal.", ((11, 18),)),
    PairInput("Iranian drones struck a tanker.", ((0, 7),), "state"),
]


def test_bundle_files(tiny_bundle):
    for name in ("model.safetensors", "config.json", "model.json", "tokenizer.json", "train_config.yaml",
                 "metrics.json", "train_log.jsonl", "README.md"):
        assert (tiny_bundle / name).is_file(), name
    info = json.loads((tiny_bundle / "model.json").read_text())
    assert info["labels"]["stance"] == ["cooperative", "adversarial", "neutral"]
    assert info["encoding"] == {"max_length": 48, "marker_style": "plain"}
    assert info["versions"]["torch"] and info["format_version"] == 1
    metrics = json.loads((tiny_bundle / "metrics.json").read_text())
    assert set(metrics["dev"]) == {"stance", "sentiment", "relation"}
    assert metrics["train_dyads"] == 16 and info["labels"]["relation"] == ["cooperative", "adversarial", "none"]
    assert len((tiny_bundle / "train_log.jsonl").read_text().splitlines()) == 2


def test_reload_gives_identical_probabilities(tiny_bundle):
    first = Predictor.from_bundle(tiny_bundle).predict(PAIRS)
    second = Predictor.from_bundle(tiny_bundle).predict(PAIRS)
    for task in first:
        np.testing.assert_array_equal(first[task], second[task])
        np.testing.assert_allclose(first[task].sum(axis=1), 1.0, rtol=1e-6)


def test_batching_does_not_change_predictions(tiny_bundle):
    one = Predictor.from_bundle(tiny_bundle, batch_size=1).predict(PAIRS)
    many = Predictor.from_bundle(tiny_bundle, batch_size=64).predict(PAIRS)
    for task in one:
        np.testing.assert_allclose(one[task], many[task], atol=1e-5)


def test_bf16_precision_gives_probabilities_close_to_fp32(tiny_bundle):
    fp32 = Predictor.from_bundle(tiny_bundle).predict(PAIRS)
    bf16_predictor = Predictor.from_bundle(tiny_bundle, precision="bf16")
    assert bf16_predictor.precision == "bf16"
    bf16 = bf16_predictor.predict(PAIRS)
    for task in fp32:
        assert bf16[task].dtype == np.float32
        np.testing.assert_allclose(bf16[task].sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(bf16[task], fp32[task], atol=0.03)  # 8-bit mantissa: close, not equal
        assert not np.array_equal(bf16[task], fp32[task])  # the autocast really ran


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_on_native_hardware(monkeypatch, native, expected):
    import torch

    from inference import predict

    monkeypatch.setattr(predict, "cpu_has_native_bf16", lambda: native)
    assert predict.resolve_precision("auto", torch.device("cpu")) == expected
    assert predict.resolve_precision("fp32", torch.device("cpu")) == "fp32"


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(tiny_bundle, target)
    return target


def test_missing_file(bundle_copy):
    (bundle_copy / "model.safetensors").unlink()
    with pytest.raises(BundleError, match="incomplete: model.safetensors is missing"):
        load_bundle(bundle_copy)


def test_wrong_format_version(bundle_copy):
    info = json.loads((bundle_copy / "model.json").read_text())
    info["format_version"] = 99
    (bundle_copy / "model.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="format version 99"):
        load_bundle(bundle_copy)


def test_labels_disagreeing_with_weights(bundle_copy):
    info = json.loads((bundle_copy / "model.json").read_text())
    info["labels"]["stance"].append("hostile")
    (bundle_copy / "model.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="do not match model.json"):
        load_bundle(bundle_copy)


def test_truncated_weights(bundle_copy):
    weights = bundle_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(BundleError, match="damaged"):
        load_bundle(bundle_copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nothing")


def test_prediction_turns_dropout_off(tiny_bundle):
    predictor = Predictor.from_bundle(tiny_bundle)
    expected = predictor.predict(PAIRS)
    predictor.model.train()  # as between training epochs, when dev is evaluated
    again = predictor.predict(PAIRS)
    for task in expected:
        np.testing.assert_array_equal(expected[task], again[task])


def fresh_model(tiny_encoder, labels: dict):
    from inference.encoding import EncodingSettings
    from inference.model import ModelInfo, build_model
    from training.trainer import load_base

    settings = EncodingSettings(max_length=48)
    tokenizer, encoder = load_base(str(tiny_encoder), settings)
    info = ModelInfo(labels=labels, encoding=settings, pooling="cls_marker", dropout=0.1,
                     base_model=str(tiny_encoder), temperatures={task: 1.0 for task in labels})
    return build_model(encoder, tokenizer, info), tokenizer


def test_init_from_bundle_copies_encoder_and_heads_with_the_same_labels(tiny_bundle, tiny_encoder):
    from training.trainer import start_from_bundle

    trained, _ = load_bundle(tiny_bundle)
    labels = {task: names for task, names in trained.info.labels.items() if task != "sentiment"}
    labels["sentiment"] = list(reversed(trained.info.labels["sentiment"]))  # same size, other order
    model, tokenizer = fresh_model(tiny_encoder, labels)
    before = {name: weights.clone() for name, weights in model.state_dict().items()}

    fresh = start_from_bundle(model, tokenizer, str(tiny_bundle))

    assert fresh == ["heads.sentiment"]
    for name, weights in model.state_dict().items():
        expected = before[name] if name.startswith("heads.sentiment.") else trained.state_dict()[name]
        assert torch.equal(weights, expected), name


def test_init_from_a_missing_bundle_names_the_key(tmp_path, tiny_encoder, tiny_bundle):
    from inference.errors import ConfigError
    from training.trainer import start_from_bundle

    trained, _ = load_bundle(tiny_bundle)
    model, tokenizer = fresh_model(tiny_encoder, trained.info.labels)
    with pytest.raises(ConfigError, match="model.init_from"):
        start_from_bundle(model, tokenizer, str(tmp_path / "nowhere"))


def test_bf16_training_keeps_fp32_weights_and_follows_the_fp32_loss(tmp_path, tiny_encoder, tiny_pairs):
    from inference.config import TrainConfig
    from training.trainer import train

    losses = {}
    for precision in ("fp32", "bf16"):
        config = TrainConfig.model_validate({
            "output_dir": str(tmp_path / precision), "model": {"base": str(tiny_encoder)},
            "encoding": {"max_length": 48}, "train": [{"path": str(tiny_pairs)}],
            "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "precision": precision},
        })
        bundle = train(config, show_progress=False)
        assert json.loads((bundle / "metrics.json").read_text())["precision"] == precision
        model, _ = load_bundle(bundle)
        assert {p.dtype for p in model.parameters()} == {torch.float32}
        losses[precision] = [e["train_loss"] for e in map(json.loads, (bundle / "train_log.jsonl").open())]
    assert losses["bf16"] != losses["fp32"]  # autocast really ran
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], rtol=0.05)


def test_scoring_applies_the_bundles_confidence_maps(tiny_bundle, tmp_path):
    bundle = tmp_path / "mapped"
    shutil.copytree(tiny_bundle, bundle)
    info = json.loads((bundle / "model.json").read_text())
    info["temperatures"]["stance"], info["confidence_maps"] = 1.5, {"stance": [0.0, 0.0, -5.0]}
    (bundle / "model.json").write_text(json.dumps(info))
    predictor = Predictor.from_bundle(bundle)
    logits = predictor.logits(PAIRS)
    probs = predictor.predict(PAIRS)
    np.testing.assert_allclose(probs["stance"], calibrated(logits["stance"], 1.5, [0.0, 0.0, -5.0]), rtol=1e-6)
    # the map pulls every confidence down to the runner-up's: top and runner-up (nearly) tie, the label stays
    ordered = np.sort(probs["stance"], axis=1)
    np.testing.assert_allclose(ordered[:, -1], ordered[:, -2], rtol=1e-5)
    assert (probs["stance"].argmax(axis=1) == logits["stance"].argmax(axis=1)).all()
    np.testing.assert_allclose(probs["sentiment"], calibrated(logits["sentiment"], info["temperatures"]["sentiment"]),
                               rtol=1e-6)
