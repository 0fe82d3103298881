from inference.segment import split_sentences


def test_offsets_point_into_the_text():
    text = "Share\n\nKerry, Lavrov Face Off\n\nRussia and the U.S. met in Geneva. They talked for hours.  "
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Share", "Kerry, Lavrov Face Off", "Russia and the U.S. met in Geneva.", "They talked for hours."
    ]
    for i, s in enumerate(sentences):
        assert s.index == i and text[s.start : s.end] == s.text


def test_over_long_sentences_are_cut_at_whitespace():
    text = " ".join(["word"] * 500)
    sentences = split_sentences(text, max_chars=100)
    assert all(len(s.text) <= 100 for s in sentences)
    assert sum(len(s.text.split()) for s in sentences) == 500
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_empty_and_blank_text():
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t ") == []
