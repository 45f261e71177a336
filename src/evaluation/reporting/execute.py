"""Execute a notebook inside this Python process: a papermill engine without a kernel.

One job: run the cells of a (papermill-parameterised) notebook in an IPython shell of this
process and record their outputs as a kernel would. Imports and loaded data stay warm between
reports, so a batch of hundreds of reports pays the start-up cost once.

Papermill still does what it does for a kernel run (parameter injection, metadata, error
markers, :class:`papermill.exceptions.PapermillExecutionError`); only the execution differs.
Every notebook gets a fresh namespace; modules imported by an earlier notebook stay imported.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any

from papermill.engines import Engine, papermill_engines

__all__ = ["ENGINE_NAME", "InProcessEngine", "available", "register"]

#: The papermill engine name of in-process execution.
ENGINE_NAME = "evaluation-inprocess"


def _shell() -> Any:
    """The process's IPython shell, set up once to record outputs instead of printing them."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Publisher(DisplayPublisher):
        """Collects ``display(...)`` calls as ``display_data`` outputs."""

        outputs: list[dict[str, Any]] = []

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                    **kwargs):  # noqa: D401 - IPython's signature
            Publisher.outputs.append({"output_type": "display_data", "data": dict(data),
                                      "metadata": dict(metadata or {})})

        def clear_output(self, wait=False):
            Publisher.outputs.clear()

    class Hook(DisplayHook):
        """Collects the value of a cell's last expression as ``execute_result``."""

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            Publisher.outputs.append({"output_type": "execute_result", "data": dict(format_dict),
                                      "metadata": dict(md_dict or {}),
                                      "execution_count": self.prompt_count})

        def finish_displayhook(self):
            sys.stdout.flush()

    if InteractiveShell.initialized():
        shell = InteractiveShell.instance()
        if hasattr(shell, "_evaluation"):
            return shell
        raise RuntimeError("An IPython shell already runs in this process (a Jupyter kernel?); "
                           "in-process execution would take it over.")
    class Shell(InteractiveShell):
        """A shell without a GUI event loop: figures come out through the inline backend."""

        def enable_gui(self, gui=None):
            pass

    import types

    # Its own module and namespace: the caller's __main__ is never touched by a report.
    module = types.ModuleType("__report__")
    shell = Shell.instance(colors="nocolor", history_length=0, user_module=module,
                           user_ns=module.__dict__)
    shell.history_manager.enabled = False
    shell.display_pub = Publisher(shell=shell)
    shell.displayhook = Hook(shell=shell, cache_size=0)
    shell._evaluation = Publisher  # marks the shell as set up; gives the output list
    return shell


class InProcessEngine(Engine):
    """Papermill engine that runs the cells in this process (see the module docstring)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):  # noqa: D401
        """Run every code cell in order; stop at the first error, recording it as a kernel
        would (an ``error`` output), so papermill raises its usual execution error."""
        shell = _shell()
        publisher = shell._evaluation
        shell.reset(new_session=False, aggressive=False)
        shell.execution_count = 1
        import matplotlib.pyplot as plt

        for index, cell in enumerate(nb_man.nb.cells):
            if cell.cell_type != "code":
                continue
            nb_man.cell_start(cell, index)
            publisher.outputs = []
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result = shell.run_cell(cell.source, store_history=False, silent=False)
            outputs: list[dict[str, Any]] = []
            if out.getvalue():
                outputs.append({"output_type": "stream", "name": "stdout", "text": out.getvalue()})
            if err.getvalue():
                outputs.append({"output_type": "stream", "name": "stderr", "text": err.getvalue()})
            outputs.extend(publisher.outputs)
            cell.execution_count = shell.execution_count
            shell.execution_count += 1
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                outputs.append({"output_type": "error", "ename": type(error).__name__,
                                "evalue": str(error), "traceback": [f"{type(error).__name__}: "
                                                                   f"{error}"]})
            import nbformat

            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            if error is not None:
                nb_man.cell_exception(cell, index, exception=error)
                nb_man.cell_complete(cell, index)
                break
            nb_man.cell_complete(cell, index)
        plt.close("all")
        shell.reset(new_session=False, aggressive=False)


def available() -> bool:
    """Whether this process can execute notebooks in-process: not inside a Jupyter kernel or
    another IPython shell, whose display machinery the engine would take over."""
    from IPython.core.interactiveshell import InteractiveShell

    return not InteractiveShell.initialized() or hasattr(InteractiveShell.instance(),
                                                         "_evaluation")


def register() -> str:
    """Register :class:`InProcessEngine` with papermill (idempotent); returns its name."""
    papermill_engines.register(ENGINE_NAME, InProcessEngine)
    return ENGINE_NAME
