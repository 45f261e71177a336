"""Run one report: parameters -> papermill -> executed notebook -> the report's own files.

One job: orchestrate a report run. Parameters are typed and checked before any cell runs
(:mod:`evaluation.reporting.params`); papermill executes the notebook, in this process by
default (:mod:`evaluation.reporting.execute`) or in a Jupyter kernel; the page is rendered
(:mod:`evaluation.reporting.render`) and every output file is written whole or not at all
(:mod:`evaluation.reporting.outputs`).
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from pathlib import Path
from typing import Any

from evaluation.errors import ParameterError, ReportError
from evaluation.reporting.params import (
    INTERNAL_FLAG,
    check_mode,
    check_parameters,
    notebook_parameters,
    parameter_specs,
)

__all__ = ["INTERNAL_FLAG", "check_mode", "notebook_parameters", "page_banner", "page_footer",
           "prepare_parameters", "run_report"]


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


def prepare_parameters(notebook: str | Path, parameters: dict[str, Any] | None, *,
                       internal: bool = False) -> dict[str, Any]:
    """Check the parameters of a run before execution (without ``data_dir``).

    Raises
    ------
    ParameterError
        As :func:`check_parameters` and :func:`check_mode`; also for ``data_dir`` given as a
        parameter (it comes from ``--data``) and a notebook without ``data_dir``.
    """
    nb_path = Path(notebook)
    specs = parameter_specs(nb_path)
    if "data_dir" not in specs:
        raise ParameterError(f"Notebook {nb_path.name} has no data_dir parameter.")
    if "data_dir" in (parameters or {}):
        raise ParameterError(
            "data_dir ges med --data, inte med -p data_dir; ta bort -p data_dir. / "
            "data_dir is given by --data, not by -p data_dir; remove -p data_dir.")
    params = check_parameters(dict(parameters or {}), specs, nb_path)
    defaults = {name: spec.default for name, spec in specs.items()}
    params = check_mode(params, defaults, internal=internal, notebook=nb_path.name)
    return {name: params.get(name, default) for name, default in defaults.items()
            if name != "data_dir"}


def _engine(kernel_name: str | None) -> tuple[str | None, str]:
    """(papermill engine name, description): in-process unless a kernel is asked for or this
    process is itself a Jupyter kernel."""
    from evaluation.reporting import execute

    if kernel_name is None and execute.available():
        return execute.register(), "in-process"
    return None, f"kernel {kernel_name or 'python3'}"


def run_report(
    notebook: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    kernel_name: str | None = None,
    internal: bool = False,
    pdf: bool = False,
) -> Path:
    """Execute a report notebook on a data folder and write the report's files.

    Parameters
    ----------
    notebook : str or Path
        Report notebook with a ``parameters``-tagged cell that has a ``data_dir`` parameter.
    data_dir : str or Path
        Folder of pseudonymised tables; passed to the notebook as an absolute ``data_dir``.
    out_dir : str or Path
        Output folder (created). For NAME it holds ``NAME.html`` (self-contained, no code),
        ``NAME.ipynb`` (executed), ``NAME.results.json`` (every table, chart and headline
        figure on the page, after disclosure control), ``NAME.tables/*.csv`` and
        ``NAME.provenance.json``; ``NAME.pdf`` with ``pdf``.
    parameters : dict, optional
        Other parameters, checked against the notebook's annotated parameters cell (unknown
        names, wrong types and values outside their rules are refused before execution).
    name : str, optional
        NAME of the outputs; default the notebook's stem.
    kernel_name : str, optional
        Run in this Jupyter kernel instead of in this process (the default, much faster; a
        process that is itself a Jupyter kernel always uses the ``python3`` kernel).
    internal : bool, default False
        Run in internal mode (exact numbers; the page carries a banner saying it must not
        leave the organisation). Without it a ``mode`` of ``"internal"`` is refused.
    pdf : bool, default False
        Also print the page to ``NAME.pdf`` (A4, WeasyPrint).

    Returns
    -------
    pathlib.Path
        Path of ``NAME.html``.

    Raises
    ------
    ParameterError
        On a parameter refused before execution, or an output folder that is a file.
    ReportError
        If a cell fails (the message gives the error and the path of ``NAME.failed.ipynb``;
        the previous outputs of NAME are removed), or the same report is being written into
        the same folder by another run.

    Notes
    -----
    Identical inputs and parameters give identical ``NAME.html``, ``NAME.results.json`` and
    tables; ``NAME.provenance.json`` differs only in ``started`` and ``seconds``.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from evaluation.reporting import outputs as out_files
    from evaluation.reporting.page import json_value
    from evaluation.reporting.render import notebook_html, notebook_title, write_pdf

    started, clock = _dt.datetime.now(_dt.UTC), time.perf_counter()
    nb_path = Path(notebook).resolve()
    params = prepare_parameters(nb_path, parameters, internal=internal)
    report = name or nb_path.stem
    if not report or any(c in report for c in "/\\:") or report.startswith("."):
        raise ParameterError(f"--name {report!r}: ett filnamn utan mappar. / a file name "
                             "without folders.", parameter="name", value=report)
    data = Path(data_dir).resolve()
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out_dir} är en fil, inte en mapp; ange en mapp. / "
                             f"--out {out_dir} is a file, not a folder; give a folder.")
    out.mkdir(parents=True, exist_ok=True)
    engine, engine_text = _engine(kernel_name)
    cwd = nb_path.parent.parent if nb_path.parent.name == "notebooks" else nb_path.parent
    run_params = {"data_dir": str(data), **params}
    with out_files.report_lock(out, report):
        running = out / f".{report}.running.ipynb"
        failed = out / f"{report}.failed.ipynb"
        import os

        saved_backend = os.environ.get("MPLBACKEND")
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        try:
            nb = papermill.execute_notebook(
                str(nb_path), str(running), parameters=run_params,
                kernel_name=kernel_name or "python3", engine_name=engine, log_output=False,
                progress_bar=False, cwd=str(cwd), request_save_on_cell_execute=False)
        except PapermillExecutionError as exc:
            removed = out_files.remove_outputs(out, report)
            if running.exists():
                os.replace(running, failed)
            gone = f" Removed the outputs of the earlier run: {', '.join(removed)}." \
                if removed else ""
            raise ReportError(
                f"Report {nb_path.name} failed in cell {exc.exec_count}: {exc.ename}: "
                f"{str(exc.evalue).rstrip('.')}. The executed notebook with the error is saved "
                f"at {failed}.{gone}") from exc
        except Exception as exc:  # kernel missing, timeouts, ...
            out_files.remove_outputs(out, report)
            if running.exists():
                os.replace(running, failed)
            raise ReportError(
                f"Report {nb_path.name} could not be executed: {type(exc).__name__}: {exc}."
            ) from exc
        finally:
            if saved_backend is None:
                os.environ.pop("MPLBACKEND", None)
            else:
                os.environ["MPLBACKEND"] = saved_backend
            running.unlink(missing_ok=True)

        executed = time.perf_counter()
        for cell in nb.cells:  # papermill gives its injected cell a random id
            if "injected-parameters" in cell.metadata.get("tags", []):
                cell["id"] = "injected-parameters"
        lang = str(params.get("lang", "sv"))
        try:
            page = notebook_html(nb, title=notebook_title(nb, report), lang=lang)
        except Exception as exc:
            raise ReportError(f"Rendering {report} as HTML failed: {type(exc).__name__}: "
                              f"{exc}.") from exc
        results = out_files.collect_results(nb, report=report, notebook=nb_path.name,
                                            parameters={k: json_value(v)
                                                        for k, v in params.items()})
        import pandas as pd

        tables = {t["name"]: pd.DataFrame(t["rows"], columns=t["columns"])
                  for t in results["tables"]}
        files: dict[str, bytes | str] = {
            ".html": page,
            ".ipynb": nbformat.writes(nb),
            ".results.json": out_files.results_json(results),
        }
        if pdf:
            pdf_tmp = out / f".{report}.pdf.tmp"
            write_pdf(page, pdf_tmp)
            files[".pdf"] = pdf_tmp.read_bytes()
            pdf_tmp.unlink()
        rendered = time.perf_counter()
        prov = out_files.provenance(
            report=report, notebook=nb_path, data_dir=data, parameters=params,
            started=started, seconds=time.perf_counter() - clock, outputs=files,
            engine=engine_text)
        prov["phases"] = {"execute": round(executed - clock, 3),
                          "render": round(rendered - executed, 3)}
        files[".provenance.json"] = json.dumps(prov, indent=2, ensure_ascii=False) + "\n"
        out_files.write_outputs(out, report, files, tables)
    return out / f"{report}.html"
