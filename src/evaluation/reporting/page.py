"""What a report notebook shows, named: tables, charts and headline figures.

One job: put a table, chart or figure on the page and, beside what the reader sees, attach
a machine-readable copy under a name (a custom MIME type in the same output). The report
runner (:mod:`evaluation.reporting.outputs`) collects these copies into ``NAME.results.json``
and ``NAME.tables/*.csv``, so the machine-readable results are exactly what the page shows,
after disclosure control, and nothing more.

Notebooks call :func:`show_text`, :func:`show_table`, :func:`show_figure` and
:func:`show_values`; nothing else is needed to publish.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Any

import pandas as pd

__all__ = ["FIGURE_MIME", "TABLE_MIME", "VALUES_MIME", "figure_png", "figure_svg", "json_value", "show_chart_of",
           "show_figure", "show_table", "show_table_of", "show_text", "show_values",
           "table_html"]

#: MIME type of a table's machine-readable copy.
TABLE_MIME = "application/vnd.evaluation.table+json"
#: MIME type of a chart's description.
FIGURE_MIME = "application/vnd.evaluation.figure+json"
#: MIME type of headline figures.
VALUES_MIME = "application/vnd.evaluation.values+json"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _check_name(name: str) -> str:
    from evaluation.errors import ParameterError

    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(
            f"Namnet {name!r} duger inte: små bokstäver, siffror och _, högst 64 tecken. / "
            f"The name {name!r} is not valid: lower-case letters, digits and _, at most 64.",
            parameter="name", value=name)
    return name


def json_value(value: Any) -> Any:
    """A cell value as JSON: numbers stay numbers (whole floats become int), NaN and missing
    become None, everything else its text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (int,)) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "")
                                     in "iu"):
        return int(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "")
                                    == "f"):
        f = float(value)
        if not math.isfinite(f):
            return None
        return int(f) if f.is_integer() and abs(f) < 2 ** 53 else round(f, 10)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def table_html(table: pd.DataFrame, name: str, caption: str | None = None) -> str:
    """The table as HTML without index, with a deterministic id and an optional caption."""
    styler = table.style.hide(axis="index").set_uuid(name.replace("_", "-"))
    if caption:
        styler = styler.set_caption(caption)
    return styler.to_html()


def show_text(markdown: str) -> None:
    """Show a paragraph of Markdown (nothing if empty)."""
    from IPython.display import Markdown, display

    if markdown and markdown.strip():
        display(Markdown(markdown))


def show_table(name: str, table: pd.DataFrame, *, caption: str | None = None,
               data: pd.DataFrame | None = None) -> None:
    """Show a table ready for readers (labels, disclosure applied), recorded as ``name``.

    Parameters
    ----------
    name : str
        Name in ``results.json`` and the CSV file name (``NAME.tables/<name>.csv``); lower-case
        letters, digits and ``_``. Unique within a report.
    table : pandas.DataFrame
        The table exactly as the reader should see it (its index is not shown).
    caption : str, optional
        What the table shows and how to read it; shown above the table.
    data : pandas.DataFrame, optional
        The same rows as numbers (published counts and shares, codes beside labels) for
        ``results.json``; only numbers the page shows belong here. Must have as many rows as
        ``table``.
    """
    from IPython.display import display

    _check_name(name)
    if not isinstance(table, pd.DataFrame):
        from evaluation.errors import ParameterError

        raise ParameterError(f"show_table({name!r}) needs a DataFrame.", parameter="table")
    payload = {
        "name": name,
        "caption": caption or "",
        "columns": [str(c) for c in table.columns],
        "rows": [[json_value(v) for v in row] for row in table.itertuples(index=False)],
    }
    if data is not None:
        if len(data) != len(table):
            from evaluation.errors import ParameterError

            raise ParameterError(f"show_table({name!r}): data has {len(data)} rows, the table "
                                 f"{len(table)}.", parameter="data")
        payload["data"] = {
            "columns": [str(c) for c in data.columns],
            "rows": [[json_value(v) for v in row] for row in data.itertuples(index=False)],
        }
    display({"text/html": table_html(table, name, caption), "text/plain": caption or name,
             TABLE_MIME: payload}, raw=True)


def figure_svg(figure: Any) -> bytes:
    """A matplotlib figure (or axes) as SVG bytes, the same bytes for the same figure (no
    date, fixed ids, text kept as text so it stays sharp, searchable and quick to draw);
    the figure is closed."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    fig = figure.figure if hasattr(figure, "figure") and not hasattr(figure, "savefig") \
        else figure
    buf = io.BytesIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "evaluation"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def figure_png(figure: Any) -> bytes:
    """A matplotlib figure (or axes) as PNG bytes without a timestamp (same figure, same
    bytes); the figure is closed."""
    import matplotlib.pyplot as plt

    fig = figure.figure if hasattr(figure, "figure") and not hasattr(figure, "savefig") \
        else figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def show_figure(name: str, figure: Any, *, alt: str, vector: bool = False) -> None:
    """Show a chart as an image with an alternative text, recorded as ``name``.

    Parameters
    ----------
    name : str
        Name of the chart in ``results.json``.
    figure : matplotlib Figure or Axes
        The chart; it is closed after rendering (it is not shown twice).
    alt : str
        What the chart shows, in words, in the report's language (for screen readers and
        when the image does not load). Required.
    vector : bool, default False
        SVG instead of PNG: sharper and quicker, but every coordinate is exact, so only for
        charts that draw published numbers alone (the overview's shares). Curves and
        points estimated from microdata stay raster images.
    """
    from IPython.display import display

    _check_name(name)
    if not alt or not str(alt).strip():
        from evaluation.errors import ParameterError

        raise ParameterError(f"show_figure({name!r}) needs an alt text.", parameter="alt")
    if vector:
        image, mime = figure_svg(figure), "image/svg+xml"
    else:
        image, mime = figure_png(figure), "image/png"
    data = base64.b64encode(image).decode("ascii")
    text = html.escape(str(alt).strip(), quote=True)
    body = (f'<figure class="chart" id="fig-{name.replace("_", "-")}">'
            f'<img src="data:{mime};base64,{data}" alt="{text}"></figure>')
    display({"text/html": body, "text/plain": str(alt), FIGURE_MIME: {"name": name,
                                                                       "alt": str(alt)}},
            raw=True)


def show_values(values: dict[str, Any], *, labels: dict[str, str] | None = None) -> None:
    """Record headline figures already shown on the page in words (e.g. the number of
    children in the selection), for ``results.json`` and the batch index. Shows nothing.

    Parameters
    ----------
    values : dict
        Name to published value (after disclosure control). Names as for tables.
    labels : dict, optional
        Name to a short label in the report's language, for the batch index.
    """
    from IPython.display import display

    clean = {_check_name(k): json_value(v) for k, v in values.items()}
    display({"text/plain": "", VALUES_MIME: {"values": clean, "labels": dict(labels or {})}},
            raw=True)


def show_table_of(report: Any, method: str, *args: Any, name: str | None = None) -> None:
    """Show the table ``report.<method>(*args)`` with ``report.caption(method)``, recorded as
    ``name`` (default ``method``). For report objects with ``caption`` (OutcomeReport,
    ChildPerspective)."""
    show_table(name or method, getattr(report, method)(*args), caption=report.caption(method))


def show_chart_of(report: Any, method: str, *args: Any, name: str | None = None) -> None:
    """Show the chart ``report.<method>(*args)`` with ``report.alt_text(method)``, recorded
    as ``name`` (default ``method``); nothing when the method draws no chart (returns None)."""
    ax = getattr(report, method)(*args)
    if ax is not None:
        show_figure(name or method, ax, alt=report.alt_text(method))
