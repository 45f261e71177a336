"""Load on the web portal: concurrent clients registering episodes against a waitress server.

Localhost only and bounded. A fresh SQLite database in a temporary folder (or, with
``DATABASE_URL`` set, that PostgreSQL database: use a throw-away one, the benchmark adds users
and episodes to it), one user per client, synthetic identity numbers made at run time. Prints
the wall time, registrations per second and whether anything was lost or duplicated (every
tenth form is sent twice, as a double click). The same client runs in
``tests/portal/test_load.py``.

    .venv/bin/python benchmarks/bench_portal.py [--clients 20] [--registrations 1000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.portal.loadclient import run_load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--registrations", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8, help="waitress worker threads")
    args = ap.parse_args(argv)

    from evaluation.portal.settings import configure

    tmp = tempfile.TemporaryDirectory(prefix="bench-portal-")
    configure(Path(tmp.name) / "bench.sqlite3", fast_hashing=True)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from waitress.server import create_server

    from evaluation.data.pseudonymise import synthetic_personnummer
    from evaluation.portal.identity import set_key
    from evaluation.portal.models import Episode, Profile
    from evaluation.portal.wsgi import application

    call_command("migrate", verbosity=0, interactive=False)
    set_key(secrets.token_bytes(32))
    municipality = "2581"
    run = secrets.token_hex(3)
    users = []
    for i in range(args.clients):
        name, password = f"bench-{run}-{i:02d}", secrets.token_urlsafe(16)
        user = get_user_model().objects.create_user(name, password=password)
        Profile.objects.create(user=user, role="registrar", municipality_code=municipality)
        users.append((name, password))
    before = Episode.objects.filter(municipality_code=municipality).count()
    connection.close()
    rng = np.random.default_rng(int(run, 16))
    days = rng.integers(0, 365 * 15, size=args.registrations)
    numbers = list(dict.fromkeys(
        synthetic_personnummer(np.datetime64("2006-01-01") + int(d), "MF"[k % 2], rng)
        for k, d in enumerate(days)))

    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)   # "Task queue depth" notes
    server = create_server(application, host="127.0.0.1", port=0, threads=args.threads,
                           ident="")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    try:
        result = run_load(f"http://127.0.0.1:{server.effective_port}", users, numbers,
                          clients=args.clients)
    finally:
        server.close()
    stored = Episode.objects.filter(municipality_code=municipality).count() - before
    print(f"portal load on {backend}, waitress {args.threads} threads: {len(numbers)} "
          f"registrations by {args.clients} clients in {result.seconds:.1f} s = "
          f"{result.per_second:.1f} registrations/s (2 requests each, look-up and form, plus "
          f"every tenth form sent twice)")
    print(f"  stored {stored} of {len(numbers)}; lost {max(len(numbers) - stored, 0)}, "
          f"duplicated {max(stored - len(numbers), 0)}; errors {len(result.errors)}")
    for err in result.errors[:5]:
        print(f"  {err}")
    tmp.cleanup()
    return 0 if stored == len(numbers) and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
