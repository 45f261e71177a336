"""Follow-up and evaluation toolkit for children placed in out-of-home care (social dygnsvård).

The package is laid out as the flow of an analysis; imports run one way, down this list
(``tests/test_layout.py`` checks it):

- :mod:`evaluation.errors`, :mod:`evaluation.checks`, :mod:`evaluation.disclosure` — the base:
  exceptions and typed warnings, the one argument-check kernel, small-count protection;
- :mod:`evaluation.data` — data dictionary, reading, validation, pseudonymisation, synthetic
  data with known truth, loading validated tables, cohorts and analysis frames;
- :mod:`evaluation.models` — survival, competing risks, Cox, Fine–Gray, multi-state, effects,
  fair comparison of units, cost-effect; validated against R;
- :mod:`evaluation.measures` — outcome measures on entry cohorts and costs;
- :mod:`evaluation.reporting` — text catalogs (sv/en), notes on model warnings, plots, report
  sections and the papermill runner;
- :mod:`evaluation.cli` — the ``evaluation`` command.

Each stage's ``__init__`` lists its public names; each name has that one address. Importing the
package has no side effects: no logging set-up, no key loading.
"""

__version__ = "0.1.0"
