import subprocess
import sys
import textwrap

import pytest

from inference.config import ScoreConfig, TrainConfig, load_config, parse_override
from inference.errors import ConfigError

from .conftest import ROOT


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_configs_are_valid():
    from inference.config import EvaluateConfig

    load_config(ROOT / "configs/train.yaml", TrainConfig)
    load_config(ROOT / "configs/score.yaml", ScoreConfig)
    load_config(ROOT / "configs/evaluate.yaml", EvaluateConfig)


def test_misspelled_key_names_path_and_suggestion(tmp_path):
    path = write(tmp_path, """
        output_dir: out
        train: [{path: a.jsonl}]
        training: {epochs: 2, learnig_rate: 0.001}
    """)
    with pytest.raises(ConfigError) as err:
        load_config(path, TrainConfig)
    assert "training.learnig_rate: unknown key (value 0.001); did you mean 'learning_rate'?" in str(err.value)


def test_wrong_type_names_path_and_value(tmp_path):
    path = write(tmp_path, "output_dir: out\ntrain: [{path: a.jsonl, weight: heavy}]\n")
    with pytest.raises(ConfigError, match=r"train\.0\.weight: got 'heavy'"):
        load_config(path, TrainConfig)


def test_missing_required_key(tmp_path):
    path = write(tmp_path, "train: [{path: a.jsonl}]\n")
    with pytest.raises(ConfigError, match="output_dir: required key is missing"):
        load_config(path, TrainConfig)


def test_overrides_are_read_as_yaml(tmp_path):
    path = write(tmp_path, "output_dir: out\ntrain: [{path: a.jsonl}]\n")
    config = load_config(path, TrainConfig, ["training.epochs=7", "model.pooling=cls", "dev=[{path: d.jsonl}]"])
    assert config.training.epochs == 7
    assert config.model.pooling == "cls"
    assert config.dev[0].path == "d.jsonl"


def test_override_errors():
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        parse_override("training.epochs")
    with pytest.raises(ConfigError, match="required key is missing"):
        load_config(None, ScoreConfig, ["model=m"])


def test_bad_literal_lists_choices(tmp_path):
    path = write(tmp_path, "output_dir: o\ntrain: [{path: a}]\nmodel: {pooling: mean}\n")
    expected = r"model\.pooling: got 'mean'; Input should be 'cls', 'marker' or 'cls_marker'"
    with pytest.raises(ConfigError, match=expected):
        load_config(path, TrainConfig)


def test_cli_config_error_is_one_line_and_imports_no_model_code(tmp_path):
    """A misspelled key fails before torch or transformers are imported (so in well under 2 s)."""
    path = write(tmp_path, "output_dir: o\ntrain: [{path: a}]\ntrainig: {}\n")
    probe = (
        "import sys\nfrom training.cli import main\n"
        "try:\n    main(['train', sys.argv[1]])\nexcept SystemExit as e:\n"
        "    print('torch' in sys.modules, 'transformers' in sys.modules, e.code)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.split() == ["False", "False", "2"]
    assert "trainig: unknown key" in result.stderr and "did you mean 'training'?" in result.stderr
    assert "Traceback" not in result.stderr
