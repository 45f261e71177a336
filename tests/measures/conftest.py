"""Fixtures of the measure tests (``test_base.py``, ``test_episode.py``, ``test_followup.py``).

``test_followup_design_effect.py`` overrides ``synth_tables`` with a smaller data set of its own.
"""

from __future__ import annotations

import pytest

from evaluation.data import synth


@pytest.fixture(scope="module")
def synth_tables():
    return synth.generate(n_children=800, n_municipalities=5, seed=5).tables
