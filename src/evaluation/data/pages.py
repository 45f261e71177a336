"""Render the human-readable data dictionary pages and the Excel registration template.

Everything here is generated from the data dictionary (``data_dictionary/dictionary.yaml``, see
:mod:`evaluation.data.dictionary`), so the pages and the template never disagree with the validation:

- :func:`render_markdown` gives one Markdown page per language (``sv``, ``en``);
- :func:`render_html` gives one self-contained HTML page with both languages;
- :func:`write_excel_template` writes the ``.xlsx`` registration template with drop-down lists;
- :func:`write_pages` writes all four files (``evaluation dictionary`` / ``make dictionary``).

Output is deterministic (no timestamps; fixed workbook properties and zip entry times), so the
generated files can be committed and checked for staleness by the tests.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation.checks import check_language
from evaluation.data.dictionary import TABLES, Column, Dictionary, load_dictionary

__all__ = [
    "FIXED_TIMESTAMP",
    "MEASURE_FIELDS",
    "TEMPLATE_ROWS",
    "render_html",
    "render_markdown",
    "template_columns",
    "write_excel_template",
    "write_pages",
]

#: Fixed creation/modification time written into the workbook so regeneration is reproducible.
FIXED_TIMESTAMP = _dt.datetime(2026, 1, 1, 0, 0, 0)
#: Number of data rows (below the header) that carry data validation in the template.
TEMPLATE_ROWS = 2000
#: Name of the sheet holding the drop-down code lists.
CODE_SHEET = "kodlistor"
#: Name of the instructions sheet.
INSTRUCTION_SHEET = "instruktioner"
#: Fields every entry of the dictionary's ``measures`` section has (besides name and label),
#: in the order the pages show them.
MEASURE_FIELDS = ("definition", "numerator", "denominator", "exclusions", "interval", "source")

#: Wording of the pages and the template (sv/en), kept as data beside the dictionary.
_WORDING: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parent / "pages.yaml").read_text(encoding="utf-8"))
_TEXT: dict[str, dict[str, str]] = _WORDING["text"]

_VALUES: dict[str, dict[str, dict[str, str]]] = _WORDING["values"]


def _text(value: Any) -> str:
    """Text of a YAML scalar; booleans (YAML 1.1 ``Yes``/``No``) become ``Yes``/``No``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _value(kind: str, lang: str, value: str) -> str:
    return _VALUES[kind][lang].get(value, value)


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


# --------------------------------------------------------------------------------------------
# Language-neutral content model, rendered to Markdown or HTML
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Code:
    """A cell shown as code (``name`` in Markdown, <code> in HTML)."""

    text: str


@dataclass(frozen=True)
class _Block:
    kind: str  # h1 | h2 | h3 | p | table
    text: str = ""
    anchor: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()


def _type_text(col: Column, lang: str) -> str:
    t = _value("type", lang, col.type)
    if col.min is not None or col.max is not None:
        t += f" ({_num(col.min)}–{_num(col.max)})"
    return t


def _blocks(lang: str, d: Dictionary) -> list[_Block]:
    check_language(lang)
    T = _TEXT[lang]
    yes, no = T["yes"], T["no"]
    out = [
        _Block("h1", T["title"], anchor=lang),
        _Block("p", f"{T['version']}: {d.version}"),
        _Block("p", T["intro"]),
        _Block("p", T["intro_codes"]),
        _Block("p", T["intro_regen"]),
    ]
    for tname in TABLES:
        if tname not in d.columns:
            continue
        tdef = d.tables[tname]
        out.append(
            _Block(
                "h2",
                f"{T['table']} {tname}: {_text(tdef['label'][lang])}",
                anchor=f"{lang}-{tname}",
            )
        )
        out.append(_Block("p", _text(tdef["description"][lang])))
        out.append(_Block("p", f"{T['primary_key']}: " + ", ".join(d.primary_key(tname))))
        rows = []
        for col in d.columns[tname].values():
            rows.append(
                (
                    _Code(col.name),
                    _text(col.label[lang]),
                    _type_text(col, lang),
                    _text(col.unit),
                    yes if col.required else no,
                    _value("stage", lang, col.stage),
                    _value("source", lang, col.source),
                    _value("identifier", lang, col.identifier),
                    _text(col.description[lang]),
                )
            )
        out.append(
            _Block(
                "table",
                headers=tuple(
                    T[k]
                    for k in (
                        "column",
                        "label",
                        "type",
                        "unit",
                        "required",
                        "stage",
                        "source",
                        "identifier",
                        "description",
                    )
                ),
                rows=tuple(rows),
            )
        )
        coded = [c for c in d.columns[tname].values() if c.codes]
        if coded:
            out.append(_Block("h3", f"{T['codes']}: {tname}", anchor=f"{lang}-{tname}-codes"))
            for col in coded:
                intro = f"{tname}.{col.name}: {_text(col.label[lang])}"
                planned = [_text(c["code"]) for c in col.codes if c.get("planned")]
                if planned:
                    intro += f" ({T['planned']}: " + ", ".join(f"`{x}`" for x in planned) + ")"
                out.append(_Block("p", intro))
                code_rows = [
                    (_Code(_text(c["code"])), _text(c["sv"]), _text(c["en"])) for c in col.codes
                ]
                out.append(
                    _Block(
                        "table",
                        headers=(T["code"], T["swedish"], T["english"]),
                        rows=tuple(code_rows),
                    )
                )
    out.append(_Block("h2", T["rules"], anchor=f"{lang}-rules"))
    out.append(
        _Block(
            "table",
            headers=(T["id"], T["tables"], T["description"]),
            rows=tuple(
                (
                    _Code(_text(r["id"])),
                    ", ".join(_text(t) for t in r.get("tables", ())),
                    _text(r["description"][lang]),
                )
                for r in d.rules
            ),
        )
    )
    if d.measures:
        out.append(_Block("h2", T["measures"], anchor=f"{lang}-measures"))
        out.append(_Block("p", T["intro_measures"]))
        for entry in d.measures:
            name = _text(entry["name"])
            out.append(
                _Block(
                    "h3",
                    f"`{name}`: {_text(entry['label'][lang])}",
                    anchor=f"{lang}-measure-{name}",
                )
            )
            out.append(
                _Block(
                    "table",
                    headers=(T["field"], T["text"]),
                    rows=tuple(
                        (T[key if key != "source" else "measure_source"], _text(entry[key][lang]))
                        for key in MEASURE_FIELDS
                    ),
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def _md_cell(cell: Any) -> str:
    if isinstance(cell, _Code):
        return f"`{cell.text}`"
    return str(cell).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def render_markdown(lang: str = "sv") -> str:
    """Render the data dictionary as a Markdown page in one language.

    Parameters
    ----------
    lang : {"sv", "en"}
        Language of headings, column headers, labels and descriptions.

    Returns
    -------
    str
        The page: title, introduction, one section per table (label, description, primary key,
        column table, code lists), the cross-table rules and the outcome measures (definition,
        numerator, denominator, exclusions, interval, source). Deterministic (no timestamps).

    Raises
    ------
    ParameterError
        If ``lang`` is not a supported language.
    """
    d = load_dictionary()
    lines: list[str] = []
    for b in _blocks(lang, d):
        if b.kind == "h1":
            lines += [f"# {b.text}", ""]
        elif b.kind == "h2":
            lines += [f"## {b.text}", ""]
        elif b.kind == "h3":
            lines += [f"### {b.text}", ""]
        elif b.kind == "p":
            lines += [b.text, ""]
        elif b.kind == "table":
            lines.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            lines.append("|" + "|".join("---" for _ in b.headers) + "|")
            for row in b.rows:
                lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 2em auto; max-width: 80em; padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1 { border-bottom: 2px solid #335; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #99a; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0 1.2em 0; font-size: .92em; }
th, td { border: 1px solid #bbc; padding: .25em .5em; vertical-align: top; text-align: left; }
th { background: #eef0f6; }
tr:nth-child(even) td { background: #fafafc; }
code { font-family: ui-monospace, Consolas, monospace; background: #f2f2f5; padding: 0 .2em; }
nav { background: #f6f6fa; border: 1px solid #dde; padding: .5em 1em; }
hr { margin: 3em 0; }
""".strip()

_INLINE_CODE = re.compile(r"`([^`]+)`")


def _html_text(text: str) -> str:
    """Escape text, turning `backticks` into <code>."""
    parts = _INLINE_CODE.split(str(text))
    out = []
    for i, part in enumerate(parts):
        esc = html.escape(part, quote=True)
        out.append(f"<code>{esc}</code>" if i % 2 else esc)
    return "".join(out)


def _html_cell(cell: Any) -> str:
    if isinstance(cell, _Code):
        return f"<code>{html.escape(cell.text)}</code>"
    return _html_text(str(cell))


def _render_html_blocks(blocks: list[_Block]) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
        if b.kind in ("h1", "h2", "h3"):
            lines.append(f"<{b.kind}{anchor}>{_html_text(b.text)}</{b.kind}>")
        elif b.kind == "p":
            lines.append(f"<p>{_html_text(b.text)}</p>")
        elif b.kind == "table":
            lines.append("<table>")
            lines.append(
                "<thead><tr>"
                + "".join(f"<th>{_html_cell(h)}</th>" for h in b.headers)
                + "</tr></thead>"
            )
            lines.append("<tbody>")
            for row in b.rows:
                lines.append("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>")
            lines.append("</tbody>")
            lines.append("</table>")
    return lines


def render_html() -> str:
    """Render both languages as one self-contained HTML page.

    The page has inline CSS only (no scripts, fonts, images or external links). The Swedish
    version comes first (anchor ``#sv``), the English second (anchor ``#en``); each table
    section has an anchor ``#<lang>-<table>``.

    Returns
    -------
    str
        The HTML document. Deterministic (no timestamps).
    """
    d = load_dictionary()
    nav_items = []
    for lang in ("sv", "en"):
        T = _TEXT[lang]
        links = [f'<a href="#{lang}">{html.escape(T["title"])}</a>']
        for tname in TABLES:
            if tname in d.tables:
                links.append(
                    f'<a href="#{lang}-{tname}">{html.escape(_text(d.tables[tname]["label"][lang]))}</a>'
                )
        links.append(f'<a href="#{lang}-rules">{html.escape(T["rules"])}</a>')
        if d.measures:
            links.append(f'<a href="#{lang}-measures">{html.escape(T["measures"])}</a>')
        nav_items.append(f"<p><strong>{lang.upper()}</strong>: " + " · ".join(links) + "</p>")
    lines = [
        "<!DOCTYPE html>",
        '<html lang="sv">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(_TEXT['sv']['title'])} / {html.escape(_TEXT['en']['title'])}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<nav>",
        *nav_items,
        "</nav>",
        '<section lang="sv">',
        *_render_html_blocks(_blocks("sv", d)),
        "</section>",
        "<hr>",
        '<section lang="en">',
        *_render_html_blocks(_blocks("en", d)),
        "</section>",
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Excel registration template
# --------------------------------------------------------------------------------------------

_INSTRUCTIONS: list[str] = _WORDING["instructions"]


def template_columns(table: str) -> list[Column]:
    """Columns of ``table`` that appear in the registration template.

    Derived columns (computed by the toolkit or by pseudonymisation: ``child_id``, ``sex``,
    ``birth_year``, ``planned_ending``) are left out; ``personnummer`` is kept.

    Parameters
    ----------
    table : str
        Table name.

    Returns
    -------
    list of Column
    """
    d = load_dictionary()
    return [c for c in d.table(table).values() if c.source != "derived"]


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i)


def _comment_text(col: Column) -> str:
    parts = [_text(col.label["sv"]), _text(col.description["sv"])]
    if col.required:
        parts.append("Obligatorisk.")
    if col.type == "date":
        parts.append("Datum ÅÅÅÅ-MM-DD.")
    if col.min is not None or col.max is not None:
        parts.append(f"Tillåtna värden: {_num(col.min)}–{_num(col.max)}.")
    if col.unit:
        parts.append(f"Enhet: {col.unit}.")
    return "\n".join(p for p in parts if p)


def _fix_zip(path: Path) -> None:
    """Rewrite the xlsx with fixed zip entry times and a fixed modified timestamp."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    data = path.read_bytes()
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as zin,
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zout,
    ):
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rf"\g<1>{stamp}\g<2>",
                    text,
                )
                content = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            zout.writestr(zi, content)
    path.write_bytes(buf.getvalue())


def write_excel_template(path: str | Path) -> Path:
    """Write the Excel registration template.

    Sheets: ``instruktioner`` (Swedish instructions), then ``episodes``, ``placements``,
    ``followups`` and ``referrals`` (row 1 = machine column names, bold, frozen; a comment on
    each header with the Swedish label and description; drop-down lists of Swedish labels for
    coded columns, Ja/Nej for booleans, date validation for dates, whole-number/decimal limits
    from the dictionary), and ``kodlistor`` (one column per coded column, headed
    ``table.column``, holding the Swedish code labels the drop-downs refer to). Derived columns
    are not included (see :func:`template_columns`).

    Parameters
    ----------
    path : str or Path
        Output ``.xlsx`` file; parent folders are created.

    Returns
    -------
    Path
        The written file. Regenerating gives byte-identical output.
    """
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    d = load_dictionary()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)

    wb = Workbook()
    wb.properties.creator = "evaluation"
    wb.properties.lastModifiedBy = "evaluation"
    wb.properties.title = "Registreringsmall: uppföljning av barn i heldygnsvård"
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP

    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE3F0")

    # Instructions.
    ws = wb.active
    ws.title = INSTRUCTION_SHEET
    ws.column_dimensions["A"].width = 110
    for i, line in enumerate(_INSTRUCTIONS, start=1):
        cell = ws.cell(row=i, column=1, value=line if line else None)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if i == 1:
            cell.font = Font(bold=True, size=14)
        elif line and not line.startswith("•") and _INSTRUCTIONS[i - 2] == "":
            cell.font = bold

    # Code lists (created now so the table sheets can refer to it; moved last below).
    codes_ws = wb.create_sheet(CODE_SHEET)
    code_ranges: dict[tuple[str, str], str] = {}
    ccol = 0
    for tname in TABLES:
        for col in d.table(tname).values():
            if not col.codes:
                continue
            ccol += 1
            letter = _col_letter(ccol)
            h = codes_ws.cell(row=1, column=ccol, value=f"{tname}.{col.name}")
            h.font = bold
            labels = [_text(c["sv"]) for c in col.codes]
            for r, lab in enumerate(labels, start=2):
                codes_ws.cell(row=r, column=ccol, value=lab)
            width = max(len(f"{tname}.{col.name}"), *(len(x) for x in labels)) + 2
            codes_ws.column_dimensions[letter].width = min(width, 45)
            code_ranges[(tname, col.name)] = f"{CODE_SHEET}!${letter}$2:${letter}${len(labels) + 1}"
    codes_ws.freeze_panes = "A2"

    last = TEMPLATE_ROWS + 1
    for tname in TABLES:
        ws = wb.create_sheet(tname)
        cols = template_columns(tname)
        for i, col in enumerate(cols, start=1):
            letter = _col_letter(i)
            cell = ws.cell(row=1, column=i, value=col.name)
            cell.font = bold
            cell.fill = header_fill
            comment = Comment(_comment_text(col), "evaluation")
            comment.width = 300
            comment.height = 150
            cell.comment = comment
            width = max(len(col.name) + 4, 12)
            if col.type == "code":
                width = max(width, min(40, max(len(_text(c["sv"])) for c in col.codes) + 4))
            ws.column_dimensions[letter].width = min(width, 40)
            rng = f"{letter}2:{letter}{last}"
            label = _text(col.label["sv"])
            dv = None
            if col.type == "code" and col.codes:
                dv = DataValidation(type="list", formula1=f"={code_ranges[(tname, col.name)]}")
                dv.error = f"Välj ett värde ur listan ({label})."
            elif col.type == "boolean":
                dv = DataValidation(type="list", formula1='"Ja,Nej"')
                dv.error = f"Välj Ja eller Nej ({label})."
            elif col.type == "date":
                dv = DataValidation(
                    type="date",
                    operator="between",
                    formula1="DATE(1980,1,1)",
                    formula2="DATE(2100,12,31)",
                )
                dv.error = f"Skriv ett datum som ÅÅÅÅ-MM-DD ({label})."
                ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
            elif col.type in ("integer", "number"):
                vtype = "whole" if col.type == "integer" else "decimal"
                if col.min is not None and col.max is not None:
                    dv = DataValidation(
                        type=vtype,
                        operator="between",
                        formula1=_num(col.min),
                        formula2=_num(col.max),
                    )
                    dv.error = (
                        f"Skriv ett tal mellan {_num(col.min)} och {_num(col.max)} ({label})."
                    )
                elif col.min is not None:
                    dv = DataValidation(
                        type=vtype, operator="greaterThanOrEqual", formula1=_num(col.min)
                    )
                    dv.error = f"Skriv ett tal som är minst {_num(col.min)} ({label})."
                elif col.max is not None:
                    dv = DataValidation(
                        type=vtype, operator="lessThanOrEqual", formula1=_num(col.max)
                    )
                    dv.error = f"Skriv ett tal som är högst {_num(col.max)} ({label})."
                else:
                    dv = DataValidation(
                        type=vtype, operator="between", formula1="-1E+15", formula2="1E+15"
                    )
                    dv.error = f"Skriv ett tal ({label})."
            elif col.type == "string":
                # Text format keeps leading zeros (municipality codes, identity numbers).
                ws.column_dimensions[letter].number_format = "@"
            if dv is not None:
                dv.allow_blank = True
                dv.showErrorMessage = True
                dv.errorTitle = "Ogiltigt värde"
                dv.errorStyle = "stop"
                dv.add(rng)
                ws.add_data_validation(dv)
        ws.freeze_panes = "A2"

    # kodlistor last.
    wb.move_sheet(CODE_SHEET, offset=len(wb.sheetnames) - 1 - wb.sheetnames.index(CODE_SHEET))
    wb.active = 0
    wb.save(out)
    _fix_zip(out)
    return out


def write_pages(out_dir: str | Path = "data_dictionary") -> list[Path]:
    """Write all generated dictionary files.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created if needed).

    Returns
    -------
    list of Path
        ``dictionary.sv.md``, ``dictionary.en.md``, ``dictionary.html`` and
        ``registration_template.xlsx`` in ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for lang in ("sv", "en"):
        p = out / f"dictionary.{lang}.md"
        p.write_text(render_markdown(lang), encoding="utf-8", newline="\n")
        paths.append(p)
    p = out / "dictionary.html"
    p.write_text(render_html(), encoding="utf-8", newline="\n")
    paths.append(p)
    paths.append(write_excel_template(out / "registration_template.xlsx"))
    return paths
