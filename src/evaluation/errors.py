"""Exceptions of the toolkit: one base class and a few subclasses.

A message says what is wrong, where (file, row, column, value) and what to do.
"""

from __future__ import annotations


class EvaluationError(Exception):
    """Base class of every error this toolkit raises on purpose."""


class DataValidationError(EvaluationError):
    """An input file cannot be read as a table of the dictionary (fatal problems only).

    Row-level problems never raise: those rows go to the quarantine table.
    """


class PseudonymKeyError(EvaluationError):
    """A pseudonymisation key is missing, too short or unsafely stored."""


class ParameterError(EvaluationError):
    """A function, command or notebook received an unknown or invalid parameter."""


class NotFittedError(EvaluationError):
    """A model was used before ``fit`` was called."""


class ConvergenceError(EvaluationError):
    """A model failed to converge."""


class ReportError(EvaluationError):
    """Executing or rendering a report notebook failed."""
