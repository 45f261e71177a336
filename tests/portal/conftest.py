"""Fixtures of the portal tests: Django configured on a throw-away database, a test key, users,
episodes, and a live waitress server for the browser and load tests.

SQLite in a temporary folder by default. With ``DATABASE_URL`` set (PostgreSQL in CI), that
database is used and emptied first, so its name must contain ``test``.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from evaluation.portal.settings import configure

TMP = Path(tempfile.mkdtemp(prefix="portal-tests-"))
DB_PATH = TMP / "portal-test.sqlite3"
_URL = os.environ.get("DATABASE_URL", "")
if _URL and "test" not in _URL.rsplit("/", 1)[-1]:
    raise pytest.UsageError(
        "DATABASE_URL must name a throw-away database whose name contains 'test': the portal "
        "tests empty it.")
configure(DB_PATH, fast_hashing=True)

import django.test.utils
from django.core.management import call_command
from django.db import connection, transaction

TEST_KEY = secrets.token_bytes(32)
BACKEND = "postgresql" if _URL else "sqlite"

#: Every log record of the session (Django, axes, waitress) goes here too: scanned at the end.
LOG_PATH = TMP / "portal-tests.log"
_handler = logging.FileHandler(LOG_PATH, encoding="utf-8")
_handler.setLevel(logging.DEBUG)
logging.getLogger().addHandler(_handler)
logging.getLogger("waitress").setLevel(logging.INFO)

#: Every identity number the tests typed (the privacy scan looks for each of them).
TYPED_NUMBERS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def portal_database():
    """Migrate (and, on PostgreSQL, empty) the test database once; install the test key."""
    from evaluation.portal.identity import set_key

    django.test.utils.setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)
    if BACKEND == "postgresql":
        call_command("flush", verbosity=0, interactive=False)
    set_key(TEST_KEY)
    yield
    set_key(None)
    django.test.utils.teardown_test_environment()


@pytest.fixture
def db():
    """Run the test in a transaction that is rolled back (like Django's TestCase)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
    connection.close_if_unusable_or_obsolete()


def make_user(name: str, role: str, municipality: str, region: str = ""):
    """A user with a portal profile (password ``name`` + a fixed suffix)."""
    from django.contrib.auth import get_user_model

    from evaluation.portal.models import Profile

    user = get_user_model().objects.create_user(name, password=password_of(name))
    Profile.objects.create(user=user, role=role, municipality_code=municipality,
                           region_code=region)
    return user


def password_of(name: str) -> str:
    return f"{name}-Långt-lösen-2024"


EPISODE_VALUES = {
    "start_date": "2024-02-01", "legal_basis": "SOL", "placement_type": "FH",
    "provider": "KOM", "problem_neglect": "true", "care_plan_goal": "REUNIFICATION",
}


def make_episode(municipality: str, child: str | None = None, **values: str):
    """An episode stored directly (values as a registration would store them)."""
    from evaluation.portal.models import Episode

    vals = {"sex": "F", "birth_year": "2012", **EPISODE_VALUES, **values}
    return Episode.objects.create(
        child_id=child or secrets.token_hex(32), municipality_code=municipality, values=vals,
        submission_id=uuid.uuid4())


def synthetic_number(seed: int, birth: str = "2012-05-17", sex: str = "F") -> str:
    """A valid-looking synthetic personnummer generated at run time (never committed)."""
    from evaluation.data.pseudonymise import synthetic_personnummer

    number = synthetic_personnummer(birth, sex, np.random.default_rng(seed))
    TYPED_NUMBERS.append(number)
    return number


class LiveServer:
    """waitress serving the portal in a thread on a free localhost port."""

    def __init__(self) -> None:
        from waitress.server import create_server

        from evaluation.portal.wsgi import application

        self.server = create_server(application, host="127.0.0.1", port=0, threads=8,
                                    ident="", clear_untrusted_proxy_headers=True)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def live_server():
    """A live waitress server for the module (its data is committed, not rolled back)."""
    server = LiveServer()
    yield server
    server.stop()
