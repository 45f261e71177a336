"""A report's own files, written whole or not at all.

One job: from an executed report notebook, collect what the page shows (tables, charts,
headline figures; see :mod:`evaluation.reporting.page`) and write ``NAME.html``,
``NAME.ipynb``, ``NAME.results.json``, ``NAME.tables/*.csv`` and ``NAME.provenance.json``
(and ``NAME.pdf`` when asked) into the output folder:

- each report has its own files, so several reports share a folder without overwriting
  each other's provenance;
- a lock (``.NAME.lock``) stops two runs of the same report into one folder at once;
- files are written to a staging folder and moved into place only when all are complete, so
  no reader ever sees a half-written page;
- a failed run removes the previous run's outputs of that name (they would no longer match
  the data) and leaves ``NAME.failed.ipynb`` with the error.

``NAME.results.json`` follows :data:`RESULTS_SCHEMA` (also in ``docs/results.schema.json``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from evaluation.errors import ReportError
from evaluation.reporting.numbers import table_numbers
from evaluation.reporting.page import FIGURE_MIME, TABLE_MIME, VALUES_MIME

__all__ = ["OUTPUT_SUFFIXES", "RESULTS_SCHEMA", "collect_results", "output_paths",
           "provenance", "remove_outputs", "report_lock", "results_json", "sha256_file",
           "write_outputs"]

#: The files of report NAME: NAME + suffix.
OUTPUT_SUFFIXES = (".html", ".ipynb", ".results.json", ".tables", ".provenance.json", ".pdf")

#: JSON Schema of ``NAME.results.json``.
RESULTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://evaluation.example/results.schema.json",
    "title": "Results of one report (after disclosure control)",
    "type": "object",
    "required": ["schema_version", "report", "notebook", "lang", "mode", "parameters",
                 "values", "tables", "figures"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "report": {"type": "string", "description": "NAME: the stem of every output file"},
        "notebook": {"type": "string"},
        "lang": {"enum": ["sv", "en"]},
        "mode": {"enum": ["publication", "internal"]},
        "parameters": {"type": "object", "description": "parameters, data_dir excepted"},
        "values": {
            "type": "object",
            "description": "headline figures shown on the page, by name",
            "additionalProperties": {"type": ["number", "string", "boolean", "null"]},
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "tables": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "caption", "columns", "rows", "file", "data"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                    "caption": {"type": "string"},
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": {
                        "type": "array",
                        "items": {"type": ["number", "string", "boolean", "null"]}}},
                    "file": {"type": "string"},
                    "data": {
                        "type": "object",
                        "description": "the same rows as numbers: the report's own numeric "
                                       "copy where it gives one, else the shown cells read "
                                       "back (numbers as numbers, percentages as fractions, "
                                       "an interval column split into lower and upper)",
                        "required": ["columns", "rows"],
                        "additionalProperties": False,
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "rows": {"type": "array", "items": {
                                "type": "array",
                                "items": {"type": ["number", "string", "boolean", "null"]}}},
                        },
                    },
                },
            },
        },
        "figures": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "alt"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "alt": {"type": "string"}},
            },
        },
    },
}


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def output_paths(out_dir: str | Path, name: str) -> dict[str, Path]:
    """Every output path of report ``name`` in ``out_dir``, by suffix."""
    out = Path(out_dir)
    return {suffix: out / f"{name}{suffix}" for suffix in OUTPUT_SUFFIXES}


def collect_results(nb: Any, *, report: str, notebook: str, parameters: dict[str, Any]
                    ) -> dict[str, Any]:
    """The machine-readable copy of what the executed notebook ``nb`` shows.

    Raises
    ------
    ReportError
        If two tables or charts share a name.
    """
    tables: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            for mime, sink in ((TABLE_MIME, tables), (FIGURE_MIME, figures)):
                if mime in data:
                    item = dict(data[mime])
                    if item["name"] in seen:
                        raise ReportError(f"{notebook}: two outputs are named {item['name']!r}; "
                                          "names must be unique in a report.")
                    seen.add(item["name"])
                    if mime == TABLE_MIME:
                        data = item.get("data") or table_numbers(
                            list(item["columns"]), list(item["rows"]),
                            str(parameters.get("lang", "sv")))
                        item = {"name": item["name"], "caption": item.get("caption", ""),
                                "columns": list(item["columns"]), "rows": list(item["rows"]),
                                "file": f"{report}.tables/{item['name']}.csv", "data": data}
                    else:
                        item = {"name": item["name"], "alt": item["alt"]}
                    sink.append(item)
            if VALUES_MIME in data:
                values.update(data[VALUES_MIME].get("values", {}))
                labels.update(data[VALUES_MIME].get("labels", {}))
    shown = {k: v for k, v in parameters.items() if k != "data_dir"}
    return {
        "schema_version": 1,
        "report": report,
        "notebook": notebook,
        "lang": str(parameters.get("lang", "sv")),
        "mode": str(parameters.get("mode", "publication")),
        "parameters": shown,
        "values": values,
        "labels": labels,
        "tables": tables,
        "figures": figures,
    }


def _git_commit(where: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def provenance(*, report: str, notebook: Path, data_dir: Path, parameters: dict[str, Any],
               started: _dt.datetime, seconds: float, outputs: dict[str, bytes | str],
               engine: str) -> dict[str, Any]:
    """What made the report: parameters, SHA-256 of the notebook and every input file,
    package versions, the git commit of the package source where there is one, start time
    (the one field that changes between identical runs) and duration."""
    from evaluation import __version__

    files = sorted(p for p in data_dir.iterdir() if p.is_file()) if data_dir.is_dir() else []
    versions = {}
    for package in ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "papermill",
                    "nbformat", "ipython"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    source = Path(__file__).resolve().parents[3]
    return {
        "report": report,
        "package": "evaluation",
        "version": __version__,
        "git_commit": _git_commit(source) if (source / ".git").exists() else None,
        "notebook": notebook.name,
        "notebook_sha256": sha256_file(notebook),
        "parameters": parameters,
        "data_dir": str(data_dir),
        "data_files": [{"name": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size}
                       for p in files],
        "python": platform.python_version(),
        "packages": versions,
        "engine": engine,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "outputs": {f"{report}{suffix}": hashlib.sha256(
            content.encode("utf-8") if isinstance(content, str) else content).hexdigest()
            for suffix, content in outputs.items()},
    }


@contextlib.contextmanager
def report_lock(out_dir: Path, name: str) -> Iterator[None]:
    """Hold ``OUT/.NAME.lock`` for the run; a second run of the same report into the same
    folder is refused while the first runs (released even if the process dies)."""
    lock = out_dir / f".{name}.lock"
    handle = lock.open("a+")
    try:
        try:
            if os.name == "nt":  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise ReportError(
                f"Rapporten {name} skrivs redan till {out_dir} av en annan körning; vänta tills "
                f"den är klar. / Report {name} is already being written to {out_dir} by another "
                "run; wait until it has finished.") from exc
        yield
    finally:
        handle.close()


def remove_outputs(out_dir: Path, name: str) -> list[str]:
    """Remove the outputs of report ``name`` (after a failed run); returns their names."""
    gone = []
    for path in output_paths(out_dir, name).values():
        if path.is_dir():
            shutil.rmtree(path)
            gone.append(path.name)
        elif path.exists():
            path.unlink()
            gone.append(path.name)
    return gone


def write_outputs(out_dir: Path, name: str, files: dict[str, bytes | str],
                  tables: dict[str, Any]) -> dict[str, Path]:
    """Write report ``name``'s files into ``out_dir`` all at once.

    Parameters
    ----------
    out_dir : Path
        Existing output folder.
    name : str
        NAME of the report.
    files : dict
        Suffix (from :data:`OUTPUT_SUFFIXES`, not ``.tables``) to content.
    tables : dict
        Table name to DataFrame, written as ``NAME.tables/<table>.csv`` (Excel-safe CSV).

    Returns
    -------
    dict of str to Path
        Suffix to the final path of each file written.
    """
    from evaluation.data.safe_text import write_csv

    stage = out_dir / f".{name}.staging-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        for suffix, content in files.items():
            target = stage / f"{name}{suffix}"
            if isinstance(content, str):
                target.write_text(content, encoding="utf-8", newline="\n")
            else:
                target.write_bytes(content)
        folder = stage / f"{name}.tables"
        folder.mkdir()
        for table_name, frame in tables.items():
            write_csv(frame, folder / f"{table_name}.csv")
        final = output_paths(out_dir, name)
        written: dict[str, Path] = {}
        for suffix in [*files, ".tables"]:
            src, dst = stage / f"{name}{suffix}", final[suffix]
            if suffix == ".tables":
                old = out_dir / f".{name}.tables.old-{os.getpid()}"
                if dst.exists():
                    dst.rename(old)
                src.rename(dst)
                if old.exists():
                    shutil.rmtree(old)
            else:
                os.replace(src, dst)
            written[suffix] = dst
        for suffix in set(OUTPUT_SUFFIXES) - set(written):  # e.g. an old PDF of an earlier run
            stale = final[suffix]
            if stale.is_file():
                stale.unlink()
        failed = out_dir / f"{name}.failed.ipynb"
        if failed.exists():
            failed.unlink()
        return written
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def results_json(results: dict[str, Any]) -> str:
    """``results`` as the text of ``NAME.results.json`` (sorted keys, UTF-8, stable)."""
    return json.dumps(results, indent=2, ensure_ascii=False, sort_keys=False,
                      allow_nan=False) + "\n"
