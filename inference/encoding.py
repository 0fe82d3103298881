"""The one place where (sentence, actor mentions) becomes model input; training and scoring both call it.

Every mention of the actor is wrapped in marker tokens that are added to the tokenizer:

>>> mark_actor("Russia and Iran met in Geneva.", [(0, 6)], EncodingSettings())
'<a>Russia</a> and Iran met in Geneva.'
>>> mark_actor("Russia and Iran met.", [(11, 15)], EncodingSettings(marker_style="typed"), "state")
'Russia and <a:state>Iran</a:state> met.'

A sentence longer than `max_length` tokens is windowed around the actor, so that the first
mention (and as many later ones as fit) stays in view.

Directed relations mark two actors of one sentence with distinct source and target markers:

>>> mark_dyad("Turkey attacked Islamic State.", [(0, 6)], [(16, 29)])
'<src>Turkey</src> attacked <tgt>Islamic State</tgt>.'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

ACTOR_TYPES = ("state", "organisation", "armed_group", "movement", "other")
MASK_TOKEN = "<a:mask>"
DYAD_MARKERS = ("<src>", "</src>", "<tgt>", "</tgt>")


@dataclass(frozen=True)
class EncodingSettings:
    """Saved in the bundle's model.json and restored on load, so a model encodes as it was trained."""

    max_length: int = 128
    marker_style: str = "plain"  # plain | typed | mask

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EncodingSettings:
        return cls(**data)

    def markers(self, actor_type: str | None = None) -> tuple[str, str]:
        if self.marker_style == "typed":
            kind = actor_type if actor_type in ACTOR_TYPES else "other"
            return f"<a:{kind}>", f"</a:{kind}>"
        return "<a>", "</a>"

    def special_tokens(self) -> list[str]:
        """Tokens to add to the tokenizer (order is part of the bundle: it fixes their ids)."""
        if self.marker_style == "typed":
            tokens = [tok for kind in ACTOR_TYPES for tok in self.markers(kind)]
        else:
            tokens = list(self.markers()) + ([MASK_TOKEN] if self.marker_style == "mask" else [])
        return tokens + list(DYAD_MARKERS)

    def start_tokens(self) -> list[str]:
        """Tokens whose first occurrence locates the actor (for marker pooling and windowing)."""
        if self.marker_style == "typed":
            return [self.markers(kind)[0] for kind in ACTOR_TYPES]
        return [self.markers()[0]]


@dataclass(frozen=True)
class PairInput:
    """One sentence and the character spans (end exclusive) of every mention of one actor in it."""

    text: str
    spans: tuple[tuple[int, int], ...]
    actor_type: str | None = None


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


@dataclass(frozen=True)
class DyadInput:
    """One sentence and the spans of two distinct actors: the source and the target of a relation."""

    text: str
    source_spans: tuple[tuple[int, int], ...]
    target_spans: tuple[tuple[int, int], ...]


def _wrap(text: str, tagged: list[tuple[int, int, str, str]], replace_with: str | None = None) -> str:
    """Insert (start, end, open, close) tags; spans must not overlap."""
    pieces, cursor = [], 0
    for start, end, open_tag, close_tag in sorted(tagged):
        if not 0 <= start < end <= len(text):
            raise ValueError(f"mention span ({start}, {end}) is outside the sentence of length {len(text)}")
        if start < cursor:
            raise ValueError(f"mention span ({start}, {end}) overlaps another marked mention")
        pieces += [text[cursor:start], open_tag, replace_with or text[start:end], close_tag]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def mark_actor(
    text: str, spans: Sequence[tuple[int, int]], settings: EncodingSettings, actor_type: str | None = None
) -> str:
    """Wrap every span in the actor markers (or replace it, for marker_style 'mask')."""
    open_tag, close_tag = settings.markers(actor_type)
    replace_with = MASK_TOKEN if settings.marker_style == "mask" else None
    return _wrap(text, [(s, e, open_tag, close_tag) for s, e in _merged(spans)], replace_with)


def mark_dyad(text: str, source_spans: Sequence[tuple[int, int]], target_spans: Sequence[tuple[int, int]]) -> str:
    """Wrap the source actor's mentions in <src></src> and the target's in <tgt></tgt>."""
    src_open, src_close, tgt_open, tgt_close = DYAD_MARKERS
    return _wrap(text, [(s, e, src_open, src_close) for s, e in _merged(source_spans)]
                 + [(s, e, tgt_open, tgt_close) for s, e in _merged(target_spans)])


def _window(ids: list[int], budget: int, start_ids: set[int], end_ids: set[int]) -> list[int]:
    """Keep `budget` tokens around the actor: from its first start marker, centred on its mentions."""
    if len(ids) <= budget:
        return ids
    starts = [i for i, tok in enumerate(ids) if tok in start_ids]
    ends = [i for i, tok in enumerate(ids) if tok in end_ids]
    if not starts:
        return ids[:budget]
    first = starts[0]
    last = max([e for e in ends if e >= first] or [first])
    # widen to later mentions while they fit
    spread_end = max([e for e in ends if e - first < budget] or [last])
    slack = budget - (spread_end - first + 1)
    begin = max(0, min(first - max(slack, 0) // 2, len(ids) - budget))
    begin = min(begin, first)
    return ids[begin : begin + budget]


def _encode_marked(tokenizer, marked: list[str], max_length: int, start_tokens: list[str], end_tokens: list[str]):
    tokenized = tokenizer(marked, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    prefix, suffix = special_affixes(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    start_ids = set(tokenizer.convert_tokens_to_ids(start_tokens))
    end_ids = set(tokenizer.convert_tokens_to_ids(end_tokens))
    return [prefix + _window(ids, budget, start_ids, end_ids) + suffix for ids in tokenized]


def encode_pairs(tokenizer, pairs: Sequence[PairInput], settings: EncodingSettings) -> list[list[int]]:
    """Token ids (special tokens included, at most max_length) for each pair, in input order."""
    if not pairs:
        return []
    marked = [mark_actor(p.text, p.spans, settings, p.actor_type) for p in pairs]
    end_tokens = [settings.markers(kind)[1] for kind in ACTOR_TYPES]
    return _encode_marked(tokenizer, marked, settings.max_length, settings.start_tokens(), end_tokens)


def encode_dyads(tokenizer, dyads: Sequence[DyadInput], settings: EncodingSettings) -> list[list[int]]:
    """Token ids for each (source, target) dyad, windowed so both actors stay in view where they fit."""
    if not dyads:
        return []
    marked = [mark_dyad(d.text, d.source_spans, d.target_spans) for d in dyads]
    src_open, src_close, tgt_open, tgt_close = DYAD_MARKERS
    return _encode_marked(tokenizer, marked, settings.max_length, [src_open, tgt_open], [src_close, tgt_close])


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens a tokenizer puts before and after one sequence ([CLS] ... [SEP], <s> ... </s>)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    at = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)
    return full[:at], full[at + len(bare) :]


def add_marker_tokens(tokenizer, settings: EncodingSettings) -> int:
    """Register the marker tokens (never split, never lower-cased); returns how many were new."""
    return tokenizer.add_special_tokens({"additional_special_tokens": settings.special_tokens()})
