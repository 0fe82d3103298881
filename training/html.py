"""A small self-contained HTML page builder: tables, headings, embedded PNG figures; no external assets."""

from __future__ import annotations

import base64
import html

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f2f2f2}td.n{text-align:right}figure{display:inline-block;margin:.4em}
mark{background:#ffe08a;padding:0 2px}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
.muted{color:#777;font-size:12px}
"""


class Page:
    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, raw: bool = False, muted: bool = False) -> None:
        cls = ' class="muted"' if muted else ""
        self.parts.append(f"<p{cls}>{text if raw else html.escape(text)}</p>")

    def table(self, header: list[str], rows: list[list], raw_columns: tuple[int, ...] = ()) -> None:
        def cell(i, value):
            if isinstance(value, float):
                return f'<td class="n">{value:.3f}</td>'
            if isinstance(value, int):
                return f'<td class="n">{value}</td>'
            return f"<td>{value if i in raw_columns else html.escape(str(value))}</td>"

        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def figures(self, images: list[tuple[str, bytes]]) -> None:
        for caption, png in images:
            data = base64.b64encode(png).decode()
            self.parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                              f"<figcaption class=\"muted\">{html.escape(caption)}</figcaption></figure>")

    def render(self) -> str:
        return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
                + "\n".join(self.parts) + "</body></html>\n")


def highlight(text: str, spans) -> str:
    """The sentence as HTML with the actor's mentions in <mark>."""
    out, cursor = [], 0
    for start, end in sorted(spans):
        out += [html.escape(text[cursor:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        cursor = end
    out.append(html.escape(text[cursor:]))
    return "".join(out)
