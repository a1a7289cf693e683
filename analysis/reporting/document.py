"""A small document model written out as self-contained HTML and as Markdown.

Text may hold `code` spans (backticks) and nothing else of Markdown. Figures are stored as PNG bytes: the HTML
embeds them as base64 data URIs (no network reference of any kind); the Markdown links the PNG files written
beside it.
"""
from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.3em 0; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; } code { background: #f4f4f4; padding: 0 0.2em; }
.note { color: #8a4b00; }
"""


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _html_text(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass
class Document:
    title: str
    blocks: list[tuple] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", level, text))

    def paragraph(self, text: str, note: bool = False) -> None:
        self.blocks.append(("paragraph", text, note))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("bullets", list(items)))

    def table(self, frame: pd.DataFrame, caption: str = "") -> None:
        """A table of already formatted cells (strings)."""
        self.blocks.append(("table", frame.astype(str), caption))

    def figure(self, fig: Figure, name: str, caption: str) -> None:
        self.figures[name] = figure_png(fig)
        self.blocks.append(("figure", name, caption))

    def to_html(self) -> str:
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>",
               f"<h1>{html.escape(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                out.append(f"<h{block[1]}>{_html_text(block[2])}</h{block[1]}>")
            elif kind == "paragraph":
                cls = ' class="note"' if block[2] else ""
                out.append(f"<p{cls}>{_html_text(block[1])}</p>")
            elif kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_html_text(i)}</li>" for i in block[1]) + "</ul>")
            elif kind == "table":
                frame, caption = block[1], block[2]
                head = "".join(f"<th>{_html_text(c)}</th>" for c in frame.columns)
                body = "".join("<tr>" + "".join(f"<td>{_html_text(v)}</td>" for v in row) + "</tr>"
                               for row in frame.itertuples(index=False))
                cap = f"<caption>{_html_text(caption)}</caption>" if caption else ""
                out.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif kind == "figure":
                data = base64.b64encode(self.figures[block[1]]).decode("ascii")
                alt = html.escape(block[2], quote=True)
                out.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{_html_text(block[2])}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def to_markdown(self, figure_dir: str = "figures") -> str:
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                out += ["#" * block[1] + " " + block[2], ""]
            elif kind == "paragraph":
                out += [("> " if block[2] else "") + block[1], ""]
            elif kind == "bullets":
                out += [f"- {i}" for i in block[1]] + [""]
            elif kind == "table":
                frame, caption = block[1], block[2]
                if caption:
                    out += [f"**{caption}**", ""]
                out.append("| " + " | ".join(_md_cell(c) for c in frame.columns) + " |")
                out.append("|" + "|".join("---" for _ in frame.columns) + "|")
                out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
                out.append("")
            elif kind == "figure":
                out += [f"![{block[2]}]({figure_dir}/{block[1]}.png)", "", f"*{block[2]}*", ""]
        return "\n".join(out)
