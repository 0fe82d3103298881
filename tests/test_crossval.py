import json

from training.crossval import run_crossval, split_lines


def _lines(path):
    return [line for line in open(path, encoding="utf-8") if line.strip()]


def test_folds_partition_the_set_and_keep_each_sentence_on_one_side(tiny_pairs):
    lines = _lines(tiny_pairs)
    texts = [json.loads(line)["text"] for line in lines]
    splits = split_lines(lines, folds=3, seed=0)
    assert sorted(i for _, _, test in splits for i in test) == list(range(len(lines)))
    for train, dev, test in splits:
        assert set(train) | set(dev) | set(test) == set(range(len(lines)))
        sides = [{texts[i] for i in part} for part in (train, dev, test)]
        assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_crossval_scores_every_fold_on_its_held_out_lines(tmp_path, tiny_encoder, tiny_pairs):
    config = tmp_path / "train.yaml"
    config.write_text(f"output_dir: unused\ntrain: [{{path: {tiny_pairs}}}]\n")
    overrides = [f"model.base={tiny_encoder}", "training.epochs=1", "encoding.max_length=32", "labels.relation=null"]
    summary = run_crossval(str(config), str(tiny_pairs), "t", 2, ["stance"], 0, overrides, root=str(tmp_path / "cv"))
    folds = summary["stance"]["macro_f1"]["folds"]
    assert len(folds) == 2 and min(folds) <= summary["stance"]["macro_f1"]["mean"] <= max(folds)
    for k in (1, 2):
        fold = tmp_path / f"cv/t/fold-{k}"
        scores = json.loads((fold / "scores.json").read_text())
        assert scores["stance"]["n"] == len(_lines(fold / "test.jsonl"))
        trained_on = (fold / "model/train_config.yaml").read_text()
        assert str(fold / "train.jsonl") in trained_on and str(fold / "dev.jsonl") in trained_on
        assert str(fold / "test.jsonl") not in trained_on
    assert "2-fold cross-validation" in (tmp_path / "cv/t/results.md").read_text()
