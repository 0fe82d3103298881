"""A README.md model card written into every bundle: what it is, what it saw, how it scored."""

from __future__ import annotations

from pathlib import Path

from inference.config import TrainConfig, dump_config
from inference.model import ModelInfo


def write_model_card(path: Path, info: ModelInfo, config: TrainConfig, metrics: dict) -> None:
    lines = [
        f"# actorstance model `{info.model_id}`",
        "",
        "Per-actor stance (" + ", ".join(info.labels["stance"]) + ") and sentiment ("
        + ", ".join(info.labels["sentiment"]) + ") for news sentences.",
        "",
        f"- base encoder: `{info.base_model}`; pooling `{info.pooling}`; encoding `{info.encoding.to_dict()}`",
        f"- calibration: temperatures {info.temperatures}; top-label confidence maps (a, b, m) {info.confidence_maps}",
        f"- best epoch: {metrics.get('best_epoch')}; training time {metrics.get('train_seconds')} s",
        "",
        "## Training data",
        "",
        "| path | weight | tasks | pairs | sha256 |",
        "|---|---|---|---|---|",
    ]
    for source in info.training_data:
        lines.append(f"| `{source['path']}` | {source['weight']} | {', '.join(source['tasks'])} | "
                     f"{source['n_pairs']} | {source['sha256']} |")
    if metrics.get("dev"):
        lines += ["", "## Dev metrics", "",
                  "| task | n | accuracy | macro-F1 | ECE | ECE if perfectly calibrated |", "|---|---|---|---|---|---|"]
        for task, m in metrics["dev"].items():
            lines.append(f"| {task} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['ece']:.3f} | "
                         f"{m['ece_floor']:.3f} |")
    lines += ["", "## Versions", ""] + [f"- {k}: {v}" for k, v in info.versions.items()]
    lines += ["", "## Training config", "", "```yaml", dump_config(config).rstrip(), "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
