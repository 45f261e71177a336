"""Index pages: one page linking a batch's units, or every report in a folder.

One job: write ``index.html`` (self-contained, same look and ``lang`` as the reports) and,
for a batch, ``index.json`` with the same content for machines.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

from evaluation.reporting.render import html_page

__all__ = ["write_batch_index", "write_folder_index"]

def _t(lang: str, key: str, **kw: Any) -> str:
    from evaluation.reporting.text import phrase

    return phrase("index", "index", key, lang, **kw)


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)


def _unit_label(by: str, unit: str) -> str:
    """A unit as the index shows it: a municipality as "0580 Linköping"."""
    if by != "municipality_code":
        return unit
    from evaluation.data.dictionary import municipality_label

    return municipality_label(unit) or unit


def write_batch_index(out: Path, *, report: str, by: str, done: list[dict[str, Any]],
                      failed: list[dict[str, Any]], lang: str = "sv") -> Path:
    """Write ``out/index.html`` and ``out/index.json`` for a batch.

    Parameters
    ----------
    out : Path
        The batch's output folder.
    report : str
        NAME of the reports (``<unit>/NAME.html``).
    by : str
        The unit column.
    done, failed : list of dict
        As :class:`~evaluation.reporting.batch.BatchSummary`.
    lang : str
        Language of the page.

    Returns
    -------
    Path
        ``out/index.html``.
    """
    names: list[str] = []
    labels: dict[str, str] = {}
    for row in done:
        for key in row.get("values", {}):
            if key not in names:
                names.append(key)
        labels.update(row.get("labels", {}))
    head = "".join(f"<th scope=\"col\">{_esc(labels.get(k, k))}</th>" for k in names)
    rows = []
    for row in done:
        link = f"{row['unit']}/{report}.html"
        cells = "".join(f"<td>{_esc(row['values'].get(k, ''))}</td>" for k in names)
        rows.append(f"<tr><th scope=\"row\"><a href=\"{_esc(link)}\">"
                    f"{_esc(_unit_label(by, row['unit']))}</a></th>{cells}</tr>")
    title = _t(lang, "batch_title", report=report)
    body = [f"<h1>{_esc(title)}</h1>", f"<p>{_esc(_t(lang, 'intro', n=len(done)))}</p>",
            "<table>", f"<thead><tr><th scope=\"col\">{_esc(_t(lang, 'unit'))}</th>{head}</tr>"
            "</thead>", "<tbody>", *rows, "</tbody>", "</table>"]
    if failed:
        body += [f"<h2>{_esc(_t(lang, 'failed'))}</h2>", f"<p>{_esc(_t(lang, 'failed_intro'))}"
                 "</p>", "<ul>"]
        body += [f"<li>{_esc(_unit_label(by, f['unit']))}: {_esc(f['error'])}</li>"
                 for f in failed]
        body.append("</ul>")
    page = html_page("\n".join(body), title=title, lang=lang)
    _write(out / "index.html", page)
    doc = {"report": report, "by": by, "labels": labels,
           "units": [{"unit": r["unit"], "html": f"{r['unit']}/{report}.html",
                      "values": r.get("values", {})} for r in done],
           "failed": [{"unit": f["unit"], "error": f["error"]} for f in failed]}
    _write(out / "index.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return out / "index.html"


def write_folder_index(folder: str | Path, *, lang: str = "sv") -> Path:
    """Write ``folder/index.html`` linking every report (``NAME.html`` with a
    ``NAME.results.json`` beside it) in the folder, by title.

    Returns
    -------
    Path
        ``folder/index.html``.
    """
    out = Path(folder)
    items = []
    for results in sorted(out.glob("*.results.json")):
        name = results.name[: -len(".results.json")]
        page = out / f"{name}.html"
        if not page.is_file():
            continue
        m = re.search(r"<title>(.*?)</title>", page.read_text("utf-8"), flags=re.DOTALL)
        title = html.unescape(m.group(1)) if m else name
        items.append(f"<li><a href=\"{_esc(page.name)}\">{_esc(title)}</a> "
                     f"<span>({_esc(page.name)})</span></li>")
    title = _t(lang, "folder_title")
    body = [f"<h1>{_esc(title)}</h1>"]
    body += ["<ul>", *items, "</ul>"] if items else [f"<p>{_esc(_t(lang, 'none'))}</p>"]
    _write(out / "index.html", html_page("\n".join(body), title=title, lang=lang))
    return out / "index.html"
