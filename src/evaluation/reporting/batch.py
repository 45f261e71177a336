"""The same report for every unit (municipality): in parallel, on this machine or on Dask.

One job: list the units, run :func:`evaluation.reporting.run.run_report` once per unit into
``OUT/<unit>/``, keep going when a unit fails, and write ``OUT/index.html`` (and
``OUT/index.json``) listing every unit with its headline figures, a link and the failures.

Speed comes from doing the fixed work once: a local worker process imports the package and
reads the data before the first report (with ``fork`` it inherits both from the parent), and
each report executes in-process (:mod:`evaluation.reporting.execute`). ``scheduler`` sends
the same tasks to an existing Dask distributed cluster instead; no scheduler is written here.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.errors import EvaluationError, ParameterError

__all__ = ["BY_PARAMETER", "BatchSummary", "batch_units", "run_batch", "run_unit"]

#: The notebook parameter that selects a unit, by the column that defines the units.
BY_PARAMETER = {"municipality_code": "municipality"}

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class BatchSummary:
    """What a batch did.

    Attributes
    ----------
    done : list of dict
        One per successful unit: ``unit``, ``seconds``, ``values``, ``labels``, ``title``.
    failed : list of dict
        One per failed unit: ``unit``, ``error``.
    seconds : float
        Wall time of the whole batch.
    index : Path or None
        ``OUT/index.html``.
    """

    done: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    index: Path | None = None

    @property
    def ok(self) -> bool:
        """True when no unit failed."""
        return not self.failed

    def line(self) -> str:
        """One-line summary for the command line."""
        text = (f"{len(self.done)} reports in {self.seconds:.1f} s"
                f" ({self.seconds / max(len(self.done) + len(self.failed), 1):.2f} s each)")
        if self.failed:
            text += f"; {len(self.failed)} failed: " + ", ".join(f["unit"] for f in self.failed)
        return text + (f"; index: {self.index}" if self.index else "")


def batch_units(data_dir: str | Path, by: str) -> list[str]:
    """The distinct values of column ``by`` of ``episodes.csv`` in ``data_dir``, sorted.

    Raises
    ------
    ParameterError
        If there is no episodes.csv, no such column, or a value unfit as a folder name.
    """
    import pandas as pd

    path = Path(data_dir) / "episodes.csv"
    if not path.is_file():
        raise ParameterError(f"Ingen episodes.csv i {data_dir}. / No episodes.csv in {data_dir}.")
    header = pd.read_csv(path, nrows=0, dtype=str).columns
    if by not in header:
        raise ParameterError(f"--by {by}: kolumnen finns inte i episodes.csv. / --by {by}: no "
                             "such column in episodes.csv.", parameter="by", value=by)
    values = pd.read_csv(path, usecols=[by], dtype=str, keep_default_na=False)[by]
    units = sorted(v for v in values.unique() if v != "")
    bad = [u for u in units if not _SAFE.match(u)]
    if bad:
        raise ParameterError(f"--by {by}: värdet {bad[0]!r} duger inte som mappnamn. / the value "
                             f"{bad[0]!r} cannot be a folder name.", parameter="by", value=bad[0])
    return units


def run_unit(task: dict[str, Any]) -> dict[str, Any]:
    """Run the report of one unit (a Dask or process-pool task); never raises.

    Returns
    -------
    dict
        ``unit``, ``ok``, ``seconds`` and either ``values``/``labels``/``title`` (from
        ``NAME.results.json`` and the page) or ``error`` (the message).
    """
    from evaluation.reporting.run import run_report

    start = time.perf_counter()
    unit = task["unit"]
    try:
        html = run_report(task["notebook"], task["data_dir"], Path(task["out_dir"]) / unit,
                          task["parameters"], name=task["name"], internal=task["internal"])
        results = json.loads(html.with_name(f"{task['name']}.results.json").read_text("utf-8"))
        title = re.search(r"<title>(.*?)</title>", html.read_text("utf-8"), flags=re.DOTALL)
        return {"unit": unit, "ok": True, "seconds": time.perf_counter() - start,
                "values": results.get("values", {}), "labels": results.get("labels", {}),
                "title": title.group(1) if title else task["name"]}
    except EvaluationError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - one unit's failure must not stop the batch
        message = f"{type(exc).__name__}: {exc}"
    from evaluation.data.safe_text import mask_identity_numbers

    return {"unit": unit, "ok": False, "seconds": time.perf_counter() - start,
            "error": mask_identity_numbers(message)}


def _warm(data_dir: str) -> None:
    """Worker start: import what a report needs and read the data once."""
    import matplotlib

    matplotlib.use("module://matplotlib_inline.backend_inline")
    from evaluation.data import load_tables
    from evaluation.reporting import execute, overview, page, plots  # noqa: F401

    execute.register()
    try:
        load_tables(data_dir)
    except EvaluationError:
        pass  # the report itself will say what is wrong


def run_batch(notebook: str | Path, data_dir: str | Path, out_dir: str | Path, *,
              by: str = "municipality_code", units: list[str] | None = None,
              parameters: dict[str, Any] | None = None, workers: int = 1,
              scheduler: str | None = None, name: str | None = None, internal: bool = False,
              progress: bool = True) -> BatchSummary:
    """Run ``notebook`` once per unit of ``by`` and write the index.

    Parameters
    ----------
    notebook, data_dir : str or Path
        As for :func:`~evaluation.reporting.run.run_report`.
    out_dir : str or Path
        Output folder: ``OUT/<unit>/NAME.*`` per unit, ``OUT/index.html`` and
        ``OUT/index.json``.
    by : str, default "municipality_code"
        Column of ``episodes.csv`` that defines the units; its notebook parameter is
        :data:`BY_PARAMETER` (``municipality``) or a parameter of the same name.
    units : list of str, optional
        Only these units (default: every value found).
    parameters : dict, optional
        Other parameters, the same for every unit; checked once before any report runs.
    workers : int, default 1
        Local worker processes (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); its workers need the
        package and the same paths.
    name : str, optional
        NAME of every report's files (default the notebook's stem).
    internal : bool, default False
        Internal mode for every report (see ``run_report``).
    progress : bool, default True
        Show a progress bar on standard error.

    Returns
    -------
    BatchSummary

    Raises
    ------
    ParameterError
        Before anything runs: a refused parameter, an unknown ``by``, ``workers`` < 1, or the
        unit parameter given with ``-p``.
    """
    from tqdm import tqdm

    from evaluation.reporting.index import write_batch_index
    from evaluation.reporting.params import parameter_specs
    from evaluation.reporting.run import prepare_parameters

    start = time.perf_counter()
    if workers < 1:
        raise ParameterError("--workers måste vara minst 1. / --workers must be at least 1.",
                             parameter="workers", value=workers, minimum=1)
    nb_path = Path(notebook).resolve()
    specs = parameter_specs(nb_path)
    unit_param = BY_PARAMETER.get(by, by)
    if unit_param not in specs:
        raise ParameterError(f"{nb_path.name} har ingen parameter {unit_param} för --by {by}. / "
                             f"{nb_path.name} has no parameter {unit_param} for --by {by}.",
                             parameter="by", value=by)
    given = dict(parameters or {})
    if unit_param in given:
        raise ParameterError(f"-p {unit_param} sätts av batchen per enhet; ta bort det. / "
                             f"-p {unit_param} is set by the batch for each unit; remove it.",
                             parameter=unit_param)
    prepare_parameters(nb_path, given, internal=internal)  # refuse bad parameters up front
    found = batch_units(data_dir, by)
    chosen = found if units is None else [u for u in found if u in set(units)]
    missing = sorted(set(units or []) - set(found))
    if missing:
        raise ParameterError(f"Enheter utan data: {', '.join(missing)}. / Units without data: "
                             f"{', '.join(missing)}.", parameter="units", value=missing[0])
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out_dir} är en fil. / --out {out_dir} is a file.")
    out.mkdir(parents=True, exist_ok=True)
    report = name or nb_path.stem
    tasks = [{"unit": u, "notebook": str(nb_path), "data_dir": str(Path(data_dir).resolve()),
              "out_dir": str(out), "parameters": {**given, unit_param: u}, "name": report,
              "internal": internal} for u in chosen]
    bar = tqdm(total=len(tasks), desc="rapporter/reports", unit="", file=sys.stderr,
               disable=not progress)
    results: list[dict[str, Any]] = []
    try:
        if scheduler:
            from distributed import Client
            from distributed import as_completed as dask_completed

            with Client(scheduler) as client:
                futures = client.map(run_unit, tasks, pure=False)
                for future in dask_completed(futures):
                    results.append(future.result())
                    bar.update(1)
        elif workers == 1 or len(tasks) <= 1:
            _warm(str(Path(data_dir).resolve()))
            for task in tasks:
                results.append(run_unit(task))
                bar.update(1)
        else:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            _warm(str(Path(data_dir).resolve()))  # a forked worker inherits this
            with ProcessPoolExecutor(max_workers=workers,
                                     mp_context=multiprocessing.get_context(method),
                                     initializer=None if method == "fork" else _warm,
                                     initargs=() if method == "fork" else
                                     (str(Path(data_dir).resolve()),)) as pool:
                futures = [pool.submit(run_unit, task) for task in tasks]
                for future in as_completed(futures):
                    results.append(future.result())
                    bar.update(1)
    finally:
        bar.close()
    results.sort(key=lambda r: r["unit"])
    summary = BatchSummary(done=[r for r in results if r["ok"]],
                           failed=[r for r in results if not r["ok"]])
    lang = str(given.get("lang", specs.get("lang").default if "lang" in specs else "sv"))
    summary.index = write_batch_index(out, report=report, by=by, done=summary.done,
                                      failed=summary.failed, lang=lang)
    summary.seconds = time.perf_counter() - start
    return summary
