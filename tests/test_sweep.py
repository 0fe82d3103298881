import json

from training.sweep import render, run_sweep


def test_sweep_tables_variants_over_seeds(tmp_path, tiny_encoder, tiny_pairs):
    config = tmp_path / "train.yaml"
    config.write_text(f"output_dir: unused\ntrain: [{{path: {tiny_pairs}}}]\ndev: [{{path: {tiny_pairs}}}]\n")
    overrides = [f"model.base={tiny_encoder}", "training.epochs=1", "encoding.max_length=32"]
    results = run_sweep(str(config), "t", {"base": [], "cls": ["model.pooling=cls"]}, [1, 2], overrides,
                        root=str(tmp_path / "sweep"))
    assert set(results) == {"base", "cls"}
    stance = results["cls"]["stance"]["macro_f1"]
    assert len(stance["runs"]) == 2 and min(stance["runs"]) <= stance["mean"] <= max(stance["runs"])
    saved = json.loads((tmp_path / "sweep/t/cls-2/model.json").read_text())
    assert saved["pooling"] == "cls"
    table = render(results, [1, 2])
    assert "| cls | `model.pooling=cls` |" in table
