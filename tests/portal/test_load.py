"""Load, bounded and on localhost only: 20 concurrent clients, 1,000 registrations against a
waitress server; nothing lost, nothing duplicated (SQLite, or PostgreSQL with DATABASE_URL).

``EVALUATION_PORTAL_LOAD_N`` changes the number of registrations (default 1000).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from evaluation.data.pseudonymise import pseudonymise_id, synthetic_personnummer
from tests.portal.conftest import BACKEND, TEST_KEY, TYPED_NUMBERS, make_user, password_of
from tests.portal.loadclient import run_load

N = int(os.environ.get("EVALUATION_PORTAL_LOAD_N", "1000"))
CLIENTS = 20


def test_concurrent_registrations_are_neither_lost_nor_duplicated(live_server, capsys):
    from django.db import connection

    from evaluation.portal.models import AuditEvent, Episode

    users = [make_user(f"last{i:02d}", "registrar", "2480") for i in range(CLIENTS)]
    connection.close()
    rng = np.random.default_rng(2024)
    births = rng.integers(0, 365 * 15, size=N)
    numbers = list(dict.fromkeys(
        synthetic_personnummer(np.datetime64("2006-01-01") + int(d), "MF"[k % 2], rng)
        for k, d in enumerate(births)))
    TYPED_NUMBERS.extend(numbers)
    result = run_load(live_server.url, [(u.username, password_of(u.username)) for u in users],
                      numbers, clients=CLIENTS)
    with capsys.disabled():
        print(f"\nportal load ({BACKEND}): {len(numbers)} registrations by {CLIENTS} clients in "
              f"{result.seconds:.1f} s = {result.per_second:.1f} registrations/s")
    assert not result.errors, result.errors[:5]
    assert result.statuses == {302: len(numbers)}
    stored = Episode.objects.filter(municipality_code="2480")
    assert stored.count() == len(numbers)
    expected = {pseudonymise_id(n, TEST_KEY) for n in numbers}
    assert set(stored.values_list("child_id", flat=True)) == expected
    assert AuditEvent.objects.filter(action="create_episode",
                                     municipality_code="2480").count() == len(numbers)


def test_the_load_client_refuses_other_hosts():
    with pytest.raises(ValueError):
        run_load("http://example.org", [], [], clients=1)
