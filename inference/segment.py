"""Sentence splitting that keeps character offsets into the original document.

Paragraphs (blank-line separated) are split first, so headlines and bylines never run into the
first sentence; each paragraph goes through pysbd (rule-based, maintained, no model to load).
pysbd returns sentence strings, which are located back in the paragraph to recover offsets, so
`text[start:end] == sentence` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+")
# pysbd's cost grows faster than linearly with paragraph length; longer paragraphs are first cut
# at the last sentence-like end before this size, so a 2 MB wall of text stays linear.
_BLOCK_CHARS = 5000


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str


@lru_cache(maxsize=8)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def _paragraphs(text: str):
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut(text: str, start: int, end: int, max_chars: int):
    """Cut an over-long span at whitespace into pieces of at most max_chars."""
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        if cut <= start:
            cut = start + max_chars
        yield _trimmed(text, start, cut)
        start = cut
    yield _trimmed(text, start, end)


def _blocks(text: str):
    """Paragraphs, with over-long ones cut at sentence-like ends into blocks of at most _BLOCK_CHARS."""
    for p_start, p_end in _paragraphs(text):
        while p_end - p_start > _BLOCK_CHARS:
            ends = [m.end() for m in _SENTENCE_END.finditer(text, p_start, p_start + _BLOCK_CHARS)]
            cut = ends[-1] if ends else p_start + _BLOCK_CHARS
            yield p_start, cut
            p_start = cut
        yield p_start, p_end


def split_sentences(text: str, language: str = "en", max_chars: int = 2000) -> list[Sentence]:
    """Split `text` into sentences with offsets; empty and whitespace-only pieces are dropped."""
    segmenter = _segmenter(language)
    spans: list[tuple[int, int]] = []
    for p_start, p_end in _blocks(text):
        p_start, p_end = _trimmed(text, p_start, p_end)
        if p_start == p_end:
            continue
        paragraph = text[p_start:p_end]
        cursor = 0
        for piece in segmenter.segment(paragraph):
            stripped = piece.strip()
            if not stripped:
                continue
            found = paragraph.find(stripped, cursor)
            if found < 0:  # pysbd changed the text: keep the rest of the paragraph as one piece
                spans.extend(_cut(text, p_start + cursor, p_end, max_chars))
                cursor = len(paragraph)
                break
            spans.extend(_cut(text, p_start + found, p_start + found + len(stripped), max_chars))
            cursor = found + len(stripped)
        if cursor < len(paragraph) and paragraph[cursor:].strip():
            spans.extend(_cut(text, p_start + cursor, p_end, max_chars))
    kept = [(s, e) for s, e in spans if e > s]
    return [Sentence(i, s, e, text[s:e]) for i, (s, e) in enumerate(kept)]
