"""An executed report notebook as one self-contained HTML page (and PDF).

One job: executed notebook -> HTML a reader can use: ``<html lang>``, the report's own title,
no code, no prompts, no heading anchors, every chart an ``<img>`` with its alternative text,
nothing loaded from the network, print CSS for A4, and the same bytes for the same notebook
outputs (no random ids, no timestamps).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from evaluation.reporting.page import FIGURE_MIME, TABLE_MIME, VALUES_MIME

__all__ = ["CSS", "html_page", "notebook_html", "notebook_title", "write_pdf"]

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; line-height: 1.5;
       font-size: 1rem; }
h1, h2, h3 { line-height: 1.2; color: #111; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.4rem; margin-top: 2rem; } h3 { font-size: 1.15rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.95rem; min-width: 70%; }
caption { caption-side: top; text-align: left; padding: 0.3rem 0 0.5rem; color: #1a1a1a; }
th, td { border-bottom: 1px solid #bbb; padding: 0.25rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #eee; }
figure.chart { margin: 1rem 0; }
img { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; }
a { color: #0645ad; }
@page { size: A4; margin: 18mm 15mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
  table, figure, img { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", flags=re.MULTILINE)
_FALLBACK_ALT = {"sv": "Diagram", "en": "Chart"}


def _markdown(text: str) -> str:
    import mistune

    md = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
    return md(text)


def _output_html(output: dict[str, Any], lang: str) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") == "stderr":  # warnings and logs are not for readers
            return ""
        return f"<pre>{html.escape(''.join(output.get('text', '')))}</pre>"
    if kind not in ("display_data", "execute_result"):
        return ""
    data = output.get("data", {})
    if VALUES_MIME in data and not (set(data) - {VALUES_MIME, "text/plain"}):
        return ""
    if "text/html" in data:
        return "".join(data["text/html"])
    if "text/markdown" in data:
        return _markdown("".join(data["text/markdown"]))
    if "image/png" in data:
        png = data["image/png"]
        png = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
        alt = html.escape(_FALLBACK_ALT.get(lang, "Chart"), quote=True)
        return f'<figure class="chart"><img src="data:image/png;base64,{png.strip()}" ' \
               f'alt="{alt}"></figure>'
    if "text/plain" in data and TABLE_MIME not in data and FIGURE_MIME not in data:
        text = "".join(data["text/plain"])
        return f"<pre>{html.escape(text)}</pre>" if text.strip() else ""
    return ""


def notebook_title(nb: Any, default: str) -> str:
    """The report's title: the first level-1 Markdown heading it shows (in a markdown cell or
    a displayed Markdown output), else ``default``."""
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            "".join(o.get("data", {}).get("text/markdown", ""))
            for o in cell.get("outputs", []) if o.get("output_type") in ("display_data",
                                                                          "execute_result")]
        for text in texts:
            m = _HEADING.search(text or "")
            if m:
                return m.group(1).strip()
    return default


def html_page(body: str, *, title: str, lang: str) -> str:
    """Wrap ``body`` in a complete page with ``lang``, ``title`` and the report CSS."""
    esc = html.escape(title, quote=False)
    return ("<!DOCTYPE html>\n"
            f"<html lang=\"{html.escape(lang, quote=True)}\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
            "</main>\n</body>\n</html>\n")


def notebook_html(nb: Any, *, title: str, lang: str = "sv") -> str:
    """The executed notebook ``nb`` as a page (see the module docstring).

    Markdown cells that hold only HTML comments are left out; code is never shown.
    """
    parts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = re.sub(r"<!--.*?-->", "", cell.source, flags=re.DOTALL).strip()
            if text:
                parts.append(_markdown(text))
        elif cell.cell_type == "code":
            for output in cell.get("outputs", []):
                piece = _output_html(output, lang)
                if piece:
                    parts.append(piece)
    body = "\n".join(parts)
    # No remote resources: drop any script, stylesheet or font loaded from elsewhere.
    body = re.sub(r"<script\b[^>]*\bsrc\s*=[^>]*>\s*</script>", "", body, flags=re.IGNORECASE)
    body = re.sub(r"<link\b[^>]*>", "", body, flags=re.IGNORECASE)
    body = re.sub(r"@import\s+url\([^)]*\);?", "", body, flags=re.IGNORECASE)
    return html_page(body, title=title, lang=lang)


def write_pdf(page: str, path: str | Path) -> Path:
    """Print the HTML ``page`` to a PDF file on A4 with WeasyPrint (no browser needed).

    Raises
    ------
    ReportError
        If WeasyPrint (or the Pango library it needs) is not installed.
    """
    from evaluation.errors import ReportError

    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ReportError(
            f"PDF kräver WeasyPrint: pip install weasyprint ({exc}). / "
            f"PDF needs WeasyPrint: pip install weasyprint ({exc}).") from exc
    out = Path(path)
    weasyprint.HTML(string=page).write_pdf(str(out))
    return out
