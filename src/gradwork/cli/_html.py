"""A self-contained HTML page: inline CSS, images embedded as base64 PNGs, no scripts.

Nothing on the page refers to another file or to the network, so the one file can
be mailed, archived or opened offline, and a browser shows it without a console
error. Sections are (anchor, title, body HTML); `page` adds a table of contents.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; color: #c9d1d9; }
nav { padding: 10px 32px; background: #fff; border-bottom: 1px solid #d0d7de; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; font-size: 14px; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; margin: 18px 0;
          padding: 6px 22px 16px; }
h2 { font-size: 18px; border-bottom: 1px solid #eaeef2; padding-bottom: 6px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: 10px 12px; border-radius: 6px; overflow-x: auto;
      font-size: 13px; }
figure { margin: 14px 0; } figure img { max-width: 100%; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 13px; }
.finding { border-left: 4px solid #2da44e; padding: 4px 12px; margin: 8px 0; background: #f6fff8; }
.finding.warning { border-color: #bf8700; background: #fff8e5; }
.finding.error { border-color: #cf222e; background: #fff0f0; }
.finding.info { border-color: #8c959f; background: #f6f8fa; }
.fix { color: #57606a; } .note { color: #57606a; font-style: italic; }
.big { font-size: 20px; font-weight: 600; }
"""


def escape(value: Any) -> str:
    """Text made safe for HTML."""
    return html.escape(str(value), quote=True)


def image(path: str | Path, alt: str, caption: str = "") -> str:
    """A <figure> with the PNG at `path` embedded as a data: URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    shown = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">{shown}</figure>'


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table; numbers are right-aligned; all-empty `header`, no header row."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
            text = f"{cell:.4g}" if isinstance(cell, float) else cell
            cells.append(
                f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    # A key-value table has no column names: no empty header row above it.
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def paragraph(text: str, css: str = "") -> str:
    return f'<p class="{css}">{escape(text)}</p>' if css else f"<p>{escape(text)}</p>"


def finding(check: str, severity: str, message: str, fix: str = "", source: str = "") -> str:
    """One finding of the doctor or a monitor, coloured by severity, with its fix."""
    marks = {"ok": "✓", "info": "·", "warning": "✗", "error": "✗"}
    where = f" <span class='note'>({escape(source)})</span>" if source else ""
    body = f"<b>{marks.get(severity, '?')} {escape(check)}</b> [{escape(severity)}]{where}: "
    body += escape(message)
    if fix and severity in ("warning", "error"):
        body += f"<br><span class='fix'>fix: {escape(fix)}</span>"
    return f'<div class="finding {escape(severity)}">{body}</div>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: header, table of contents, one <section id=...> per entry."""
    links = " ".join(f'<a href="#{anchor}">{escape(name)}</a>' for anchor, name, _ in sections)
    body = "\n".join(
        f'<section id="{anchor}"><h2>{escape(name)}</h2>\n{content}\n</section>'
        for anchor, name, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>\n"
        f"<nav>{links}</nav>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
