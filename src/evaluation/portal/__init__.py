"""The Webbkollen web portal: registration at each follow-up and ending, with a live overview.

A Django application configured in code (:func:`evaluation.portal.settings.configure`), run by
``evaluation portal init|adduser|serve|export``. Modules: ``settings`` (configuration),
``models`` (profiles, episodes, follow-ups, audit events), ``forms`` (forms made from the data
dictionary), ``registration`` (the shared validator on one web row), ``security`` (roles,
scoped querysets, headers), ``identity`` (number -> pseudonym), ``tables`` (export and the
overview's source), ``charts`` (the overview as HTML), ``views``, ``urls``, ``audit``,
``demo``, ``commands`` (the CLI) and ``wsgi``.

Importing this package imports nothing of Django (the CLI imports
:mod:`evaluation.portal.commands`, which sets Django up only when a command runs).
"""

from __future__ import annotations

__all__: list[str] = []
