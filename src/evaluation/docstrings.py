"""Shared docstring fragments, as statsmodels' ``Appender``/``Substitution`` do.

Where many functions describe a parameter in the same words (``alpha``, ``group_cols``, ...),
the words are written once and put in place when the module is imported: a docstring holds the
token ``%(name)s`` on a line of its own, indented as the parameter line would be, and
:func:`shared_doc` replaces it with the fragment, indented the same way.

Examples
--------
>>> fill = shared_doc({"alpha": "alpha : float, default 0.05\\n    One minus the confidence level."})
>>> @fill
... def f(alpha=0.05):
...     '''Do something.
...
...     Parameters
...     ----------
...     %(alpha)s
...     '''
>>> print(f.__doc__.splitlines()[4].strip(), "/", f.__doc__.splitlines()[5].strip())
alpha : float, default 0.05 / One minus the confidence level.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeVar

__all__ = ["shared_doc"]

F = TypeVar("F", bound=Callable)


def shared_doc(fragments: Mapping[str, str]) -> Callable[[F], F]:
    """Decorator that fills ``%(name)s`` lines of a docstring with ``fragments[name]``.

    Parameters
    ----------
    fragments : mapping of str to str
        Fragment per name; its first line is the parameter line, later lines are indented by
        4 spaces relative to it (as written in a numpydoc Parameters section).

    Returns
    -------
    callable
        The decorator; it raises ``KeyError`` at import time for a token without a fragment,
        so a misspelt token cannot reach the documentation.
    """
    def fill(func: F) -> F:
        doc = func.__doc__
        if doc:
            def put(match: re.Match) -> str:
                indent = match.group(1)
                lines = fragments[match.group(2)].splitlines()
                return "\n".join(indent + line.strip() if i == 0 else indent + line
                                 for i, line in enumerate(lines))
            func.__doc__ = re.sub(r"^([ \t]*)%\((\w+)\)s[ \t]*$", put, doc, flags=re.MULTILINE)
        return func
    return fill
