"""Run a report notebook with strict parameters and render self-contained HTML.

One job: parameters -> papermill -> executed notebook -> HTML without code -> provenance.
"""

from __future__ import annotations

import ast
import datetime as _dt
import difflib
import hashlib
import json
import platform
import re
from pathlib import Path
from typing import Any

from evaluation.errors import ParameterError, ReportError

__all__ = ["INTERNAL_FLAG", "check_mode", "notebook_parameters", "page_banner", "page_footer",
           "run_report"]

#: The command-line flag without which no report runs in internal mode.
INTERNAL_FLAG = "--internal"

_TRUE = {"true", "1", "yes", "ja", "y", "j"}
_FALSE = {"false", "0", "no", "nej", "n"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; }
.jp-OutputPrompt, .jp-InputPrompt, .prompt { display: none; }
"""


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """Names and default values of the notebook's ``parameters``-tagged cell.

    Parameters
    ----------
    notebook : str or Path
        Path of the ``.ipynb`` file.

    Returns
    -------
    dict of str to object
        Parameter name to its literal default (``str``, ``int``, ``float``, ``bool`` or None),
        in the order of the cell.

    Raises
    ------
    ParameterError
        If the notebook does not exist or a default is not a Python literal.
    """
    import papermill

    path = Path(notebook)
    if not path.is_file():
        raise ParameterError(f"Notebook {str(path)!r} does not exist.")
    out: dict[str, Any] = {}
    for name, info in papermill.inspect_notebook(str(path)).items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError) as exc:
            raise ParameterError(
                f"Default of parameter {name!r} in {path.name} is not a literal: "
                f"{info['default']!r}. Parameters cells hold literals only."
            ) from exc
    return out


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Convert ``value`` (often a CLI string) to the type of ``default``."""
    fail = ParameterError(
        f"Parameter {name!r} must be {type(default).__name__} like its default {default!r}; "
        f"got {value!r}."
    )
    if default is None:
        if isinstance(value, str) and value.strip().lower() in {"none", "null", ""}:
            return None
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise fail
    if isinstance(default, int):
        if isinstance(value, bool):
            raise fail
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise fail from None
        raise fail
    if isinstance(default, float):
        if isinstance(value, bool):
            raise fail
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip().replace(",", "."))
            except ValueError:
                raise fail from None
        raise fail
    if isinstance(default, str):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise fail
    return value


def _check_parameters(given: dict[str, Any], defaults: dict[str, Any], notebook: Path) -> dict:
    checked: dict[str, Any] = {}
    for name, value in given.items():
        if name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"Unknown parameter {name!r} for {notebook.name}.{hint} "
                f"Known parameters: {', '.join(defaults)}."
            )
        checked[name] = _coerce(name, value, defaults[name])
    return checked


def check_mode(params: dict[str, Any], defaults: dict[str, Any], *, internal: bool,
               notebook: str = "the notebook") -> dict[str, Any]:
    """Apply the disclosure mode to checked parameters: publication unless ``internal``.

    Internal mode (exact numbers, small counts included) is never a default: a notebook whose
    ``mode`` defaults to ``"internal"`` is refused, ``mode = "internal"`` as a parameter is
    refused unless ``internal`` is True (the ``--internal`` flag of ``evaluation report``),
    and ``internal`` sets ``mode`` to ``"internal"``.

    Parameters
    ----------
    params : dict
        Parameters already checked against ``defaults`` (:func:`_check_parameters`).
    defaults : dict
        The notebook's parameters and defaults (:func:`notebook_parameters`).
    internal : bool
        The explicit request for internal mode.
    notebook : str
        Name of the notebook, for messages.

    Returns
    -------
    dict
        ``params`` with ``mode`` set when the notebook has that parameter.

    Raises
    ------
    ParameterError
        With a message in Swedish and English naming ``--internal``.
    """
    out = dict(params)
    has_mode = "mode" in defaults
    if has_mode and defaults["mode"] != "publication":
        raise ParameterError(
            f"{notebook}: parametern mode måste ha standardvärdet \"publication\", inte "
            f"{defaults['mode']!r}. / The mode parameter must default to \"publication\", not "
            f"{defaults['mode']!r}."
        )
    asked = str(out.get("mode", "publication")).strip().lower()
    if asked not in ("publication", "internal"):
        raise ParameterError(
            f"mode={out.get('mode')!r} är okänt; välj \"publication\" (standard) eller "
            f"\"internal\" med {INTERNAL_FLAG}. / mode={out.get('mode')!r} is unknown; choose "
            f"\"publication\" (the default) or \"internal\" with {INTERNAL_FLAG}."
        )
    if internal:
        if not has_mode:
            raise ParameterError(
                f"{notebook} har ingen parameter mode och kan inte köras internt. / "
                f"{notebook} has no mode parameter and cannot run in internal mode."
            )
        if asked != "internal" and "mode" in out:
            raise ParameterError(
                f"{INTERNAL_FLAG} och -p mode {out['mode']} motsäger varandra. / "
                f"{INTERNAL_FLAG} contradicts -p mode {out['mode']}."
            )
        out["mode"] = "internal"
    elif asked == "internal":
        raise ParameterError(
            f"Internt läge (exakta tal) kräver flaggan {INTERNAL_FLAG}; rapporten får då inte "
            f"lämna organisationen. / Internal mode (exact numbers) needs the flag "
            f"{INTERNAL_FLAG}; the report must then not leave the organisation."
        )
    return out


def page_banner(policy: Any, lang: str = "sv") -> str:
    """Markdown banner for the top of every page: the internal-mode warning, or "" in
    publication mode (catalog ``disclosure.page.banner``)."""
    from evaluation.reporting.text import phrase

    return "" if policy.publication else phrase("disclosure", "page", "banner", lang)


def page_footer(policy: Any, lang: str = "sv") -> str:
    """Markdown footer sentence for the end of every page: how the numbers are protected
    (``disclosure.page.footer``, linking the docs) or that they are exact
    (``disclosure.page.footer_internal``)."""
    from evaluation.reporting.text import phrase

    if not policy.publication:
        return phrase("disclosure", "page", "footer_internal", lang)
    return phrase("disclosure", "page", "footer", lang, min_children=policy.min_children,
                  min_events=policy.min_events, threshold=policy.threshold)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _to_html(executed: Path, title: str) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":  # warnings and logs are not for readers
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    # No remote resources: drop any script, stylesheet or font loaded from elsewhere.
    body = re.sub(r"<script\b[^>]*\bsrc\s*=[^>]*>\s*</script>", "", body, flags=re.IGNORECASE)
    body = re.sub(r"<link\b[^>]*>", "", body, flags=re.IGNORECASE)
    body = re.sub(r"@import\s+url\([^)]*\);?", "", body, flags=re.IGNORECASE)
    esc = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _title(executed: Path, default: str) -> str:
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if m:
                return m.group(1).strip()
    return default


def run_report(
    notebook: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    kernel_name: str | None = None,
    internal: bool = False,
) -> Path:
    """Execute a report notebook on a data folder and write self-contained HTML.

    Parameters
    ----------
    notebook : str or Path
        Report notebook with a ``parameters``-tagged cell that has a ``data_dir`` parameter.
    data_dir : str or Path
        Folder of pseudonymised tables; passed to the notebook as an absolute ``data_dir``.
    out_dir : str or Path
        Output folder (created): ``<stem>.ipynb`` (executed), ``<stem>.html`` and
        ``provenance.json``.
    parameters : dict, optional
        Other parameters. Strict: every name must be a parameter of the notebook; values
        (strings from a command line, or Python values) are converted to the type of the
        default (int, float, bool, str; a None default accepts anything).
    kernel_name : str, optional
        Jupyter kernel; default ``python3``, which runs in the interpreter that runs papermill
        when ipykernel is installed there.
    internal : bool, default False
        Run in internal mode (exact numbers; the page carries a banner saying it must not
        leave the organisation). Without it a ``mode`` of ``"internal"`` is refused
        (:func:`check_mode`).

    Returns
    -------
    pathlib.Path
        Path of the HTML report.

    Raises
    ------
    ParameterError
        On an unknown parameter (the message names it, the known ones and the closest match),
        a value that cannot be converted, or internal mode asked for without ``internal``.
    ReportError
        If a cell fails (the message gives the error name and value and the path of the saved
        executed notebook, which is kept) or the kernel cannot start.

    Notes
    -----
    The HTML has no code cells and no prompts, embeds figures as base64 PNG and loads nothing
    from the network (nbconvert's ``basic`` template wrapped in a minimal page; any remote
    script or stylesheet is removed). stderr output (warnings) is left out of the HTML but
    kept in the executed notebook. The kernel runs with the inline matplotlib backend even
    when ``MPLBACKEND`` is set in the caller's environment (``Agg`` would drop the figures).
    """
    import os

    import papermill
    from papermill.exceptions import PapermillExecutionError

    from evaluation import __version__

    nb_path = Path(notebook).resolve()
    defaults = notebook_parameters(nb_path)
    if "data_dir" not in defaults:
        raise ParameterError(f"Notebook {nb_path.name} has no data_dir parameter.")
    if "data_dir" in (parameters or {}):
        raise ParameterError(
            "data_dir ges med --data, inte med -p data_dir; ta bort -p data_dir. / "
            "data_dir is given by --data, not by -p data_dir; remove -p data_dir.")
    params = _check_parameters(dict(parameters or {}), defaults, nb_path)
    params = check_mode(params, defaults, internal=internal, notebook=nb_path.name)
    data = Path(data_dir).resolve()
    params["data_dir"] = str(data)
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out_dir} är en fil, inte en mapp; ange en mapp. / "
                             f"--out {out_dir} is a file, not a folder; give a folder.")
    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{nb_path.stem}.ipynb"
    cwd = nb_path.parent.parent if nb_path.parent.name == "notebooks" else nb_path.parent

    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        papermill.execute_notebook(
            str(nb_path), str(executed), parameters=params,
            kernel_name=kernel_name or "python3", log_output=False, progress_bar=False,
            cwd=str(cwd),
        )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"Report {nb_path.name} failed in cell {exc.exec_count}: {exc.ename}: {str(exc.evalue).rstrip('.')}. "
            f"The executed notebook with the error is saved at {executed}."
        ) from exc
    except Exception as exc:  # kernel missing, timeouts, ...
        where = f" Partial notebook: {executed}." if executed.exists() else ""
        raise ReportError(
            f"Report {nb_path.name} could not be executed: {type(exc).__name__}: {exc}.{where}"
        ) from exc
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend

    html_path = out / f"{nb_path.stem}.html"
    try:
        html = _to_html(executed, _title(executed, nb_path.stem))
    except Exception as exc:
        raise ReportError(
            f"Converting {executed} to HTML failed: {type(exc).__name__}: {exc}."
        ) from exc
    html_path.write_text(html, encoding="utf-8")

    files = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else []
    provenance = {
        "package": "evaluation",
        "version": __version__,
        "notebook": nb_path.name,
        "notebook_sha256": _sha256(nb_path),
        "parameters": {k: params.get(k, v) for k, v in defaults.items()},
        "data_files": [{"name": p.name, "sha256": _sha256(p), "bytes": p.stat().st_size}
                       for p in files],
        "python": platform.python_version(),
        "papermill": papermill.__version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "outputs": {"notebook": executed.name, "html": html_path.name},
    }
    (out / "provenance.json").write_text(
        json.dumps(provenance, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return html_path
