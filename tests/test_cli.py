"""The CLI verbs call the same functions the other tests call; here: arguments, overrides, exit codes."""

import json

import pytest

from training.cli import main


def run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_train_and_score_through_the_cli(tmp_path, tiny_encoder, tiny_pairs, documents_file, actors_dir, capsys):
    bundle = tmp_path / "bundle"
    config = tmp_path / "train.yaml"
    config.write_text(f"output_dir: {bundle}\ntrain: [{{path: {tiny_pairs}}}]\n")
    code = run(["train", str(config), "--quiet", "--set", f"model.base={tiny_encoder}",
                "--set", "training.epochs=1", "--set", "encoding.max_length=32"])
    assert code == 0 and (bundle / "model.json").is_file()
    assert json.loads((bundle / "model.json").read_text())["encoding"]["max_length"] == 32
    assert "model bundle written to" in capsys.readouterr().out

    out = tmp_path / "scored.parquet"
    score_config = tmp_path / "score.yaml"
    score_config.write_text(f"model: {bundle}\ninput: {{path: {documents_file}}}\noutput: {{path: {out}}}\n")
    code = run(["score", str(score_config), "--quiet", "--set", f"actors.paths=[{actors_dir}]"])
    assert code == 0 and out.is_file()
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows_scored"] == 2


def test_errors_exit_2_with_one_line(tmp_path, capsys):
    config = tmp_path / "score.yaml"
    config.write_text("model: nowhere\ninput: {path: nothing.jsonl}\noutput: {path: o.jsonl}\n")
    assert run(["score", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actorstance: error: input.path: file not found") and err.count("\n") == 1
