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
    """A function, command or notebook received an unknown or invalid parameter.

    Attributes
    ----------
    parameter : str or None
        The argument at fault, where the raiser names it.
    value : object
        The value given (None when not recorded).
    minimum : number or None
        The least value allowed, for a value that is too small.

    Callers that explain an error (reports) read the class and these attributes, never the
    message text.
    """

    def __init__(self, message: str = "", *, parameter: str | None = None, value: object = None,
                 minimum: object = None) -> None:
        super().__init__(message)
        self.parameter, self.value, self.minimum = parameter, value, minimum


class LevelError(ParameterError):
    """A named level (e.g. a treatment arm) does not occur in its column.

    ``parameter`` names the argument (e.g. ``"treated"``), ``value`` the level.
    """


class BootstrapError(ParameterError):
    """Too many bootstrap replicates could not be estimated for an interval to be trusted."""


class NotFittedError(EvaluationError):
    """A model was used before ``fit`` was called."""


class ConvergenceError(EvaluationError):
    """A model failed to converge."""


class ReportError(EvaluationError):
    """Executing or rendering a report notebook failed."""


class BatchError(ReportError):
    """Some units of a batch failed (the others were written); the message lists them."""


# --------------------------------------------------------------------------- warnings
# Warn only when the result is still valid; reports explain a warning by its class (never by
# its English wording): evaluation.reporting.notes maps each class to a sentence in Swedish and
# English. Every class derives from UserWarning, so ``pytest.warns(UserWarning)`` and the
# usual filters keep working.


class EvaluationWarning(UserWarning):
    """Base class of every warning this toolkit gives on purpose."""


class SeparationWarning(EvaluationWarning):
    """A binary model fitted probabilities numerically 0 or 1 (separation)."""


class OutcomeSeparationWarning(SeparationWarning):
    """Separation in an outcome model: some covariate pattern has only one outcome."""


class PropensitySeparationWarning(SeparationWarning):
    """Separation in a propensity model: some covariate pattern occurs in only some arms, so
    positivity fails there."""


class PositivityWarning(EvaluationWarning):
    """Some rows have an estimated propensity score close to 0 for an arm (lack of overlap)."""


class ExtremeWeightsWarning(EvaluationWarning):
    """A few rows carry a large share of the weight of an arm (low effective sample size)."""


class ConstantCovariateWarning(EvaluationWarning):
    """A covariate is constant within a group, so its coefficient is not identified there.

    Attributes
    ----------
    arm : str or None
        The group (treatment arm) in which the covariates are constant.
    covariates : tuple of str
        The design columns that are constant there.

    Reports read these attributes, never the message text.
    """

    def __init__(self, message: str, *, arm: str | None = None,
                 covariates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.arm = arm
        self.covariates = tuple(covariates)


class BootstrapFailureWarning(EvaluationWarning):
    """Some bootstrap replicates could not be estimated and were dropped."""


class ShortFollowUpWarning(EvaluationWarning):
    """A horizon lies beyond the last follow-up time; the curve is carried forward."""


class ConvergenceWarning(EvaluationWarning):
    """A fit stopped before it converged; its estimates may be unreliable."""


class BoundaryWarning(EvaluationWarning):
    """A variance was estimated at zero or a matrix was singular (a boundary fit)."""


class SmallGroupWarning(EvaluationWarning):
    """A group in a comparison is small, so its estimate is uncertain."""


class CaseMixTermDroppedWarning(SeparationWarning):
    """A case-mix term was left out of a model because it alone separates the outcome."""
