"""``evaluation portal``: init, adduser, serve and export (the CLI's ``portal`` sub-command).

Every error a user can cause is an :class:`~evaluation.errors.EvaluationError` with its
message in Swedish and English, printed by :func:`evaluation.cli.main` without a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from evaluation.errors import ParameterError, PseudonymKeyError

__all__ = ["ROLE_NAMES", "add_parser", "cmd_adduser", "cmd_export", "cmd_init", "cmd_serve"]

ROLE_NAMES = ("registrar", "analyst", "admin")

_DB_HELP = ("SQLite database file (default portal.sqlite3); ignored when DATABASE_URL is set "
            "(PostgreSQL)")


def _setup(db: str, **kwargs: Any) -> None:
    from evaluation.portal.settings import configure

    configure(db, **kwargs)


def _pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


def _require_database(db: str) -> None:
    import os

    if not os.environ.get("DATABASE_URL") and not Path(db).is_file():
        raise ParameterError(
            f"Databasen {db} finns inte; skapa den med `evaluation portal init --db {db}`. / "
            f"The database {db} does not exist; create it with "
            f"`evaluation portal init --db {db}`.")
    pending = _pending_migrations()
    if pending:
        raise ParameterError(
            f"Databasen behöver uppdateras ({len(pending)} migreringar); kör `evaluation "
            f"portal init --db {db}`. / The database needs {len(pending)} migrations; run "
            f"`evaluation portal init --db {db}`.")


def cmd_init(args: argparse.Namespace) -> str:
    """Create or migrate the database; ``--demo`` adds synthetic cases."""
    _setup(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    line = f"portal init: database ready ({_where(args.db)})"
    if args.demo:
        from evaluation.portal.demo import DEMO_MUNICIPALITIES, add_demo_cases
        from evaluation.portal.models import Episode

        if Episode.objects.exists():
            line += "; demo cases not added: the database already holds episodes"
        else:
            n = add_demo_cases()
            line += (f"; added {n['episodes']} synthetic episodes and {n['followups']} "
                     f"follow-ups for municipalities {' and '.join(DEMO_MUNICIPALITIES)}")
    return line


def _where(db: str) -> str:
    import os

    return "PostgreSQL from DATABASE_URL" if os.environ.get("DATABASE_URL") else str(db)


def _read_password(stdin: Any = None) -> str:
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Lösenord / Password: ")
        if first != getpass.getpass("Upprepa / Repeat: "):
            raise ParameterError("Lösenorden skiljer sig åt. / The passwords differ.")
        return first
    return stdin.readline().rstrip("\r\n")


def cmd_adduser(args: argparse.Namespace) -> str:
    """Add a user (password from standard input, or prompted on a terminal)."""
    code = args.municipality
    if len(code) != 4 or not code.isdigit():
        raise ParameterError(
            f"--municipality ska vara en fyrsiffrig kommunkod, inte {code!r}. / --municipality "
            f"must be a four-digit municipality code, not {code!r}.")
    region = args.region or ""
    if region and (args.role != "admin" or len(region) != 2 or not region.isdigit()):
        raise ParameterError(
            "--region (två siffror, länskod) gäller bara rollen admin. / --region (two digits, "
            "county code) applies to the admin role only.")
    _setup(args.db)
    _require_database(args.db)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from evaluation.portal import audit
    from evaluation.portal.models import Profile

    User = get_user_model()
    existing = User.objects.filter(username=args.name).first()
    if existing is not None and not args.replace:
        raise ParameterError(
            f"Användaren {args.name!r} finns redan (lägg till --replace för att byta lösenord "
            f"och roll). / User {args.name!r} exists already (add --replace to change the "
            "password and role).")
    password = _read_password()
    candidate = existing or User(username=args.name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as err:
        raise ParameterError("Lösenordet godtas inte / The password is refused: "
                             + " ".join(err.messages)) from None
    with transaction.atomic():
        user = candidate
        user.set_password(password)
        user.save()
        Profile.objects.update_or_create(user=user, defaults={
            "role": args.role, "municipality_code": code, "region_code": region})
        audit.record(None, "create_user", municipality=code, username="kommandorad",
                     detail=f"{args.name} ({args.role})")
    return (f"portal adduser: {'updated' if existing else 'added'} {args.name} "
            f"({args.role}, municipality {code}{', region ' + region if region else ''})")


def cmd_serve(args: argparse.Namespace) -> str:
    """Serve the portal with waitress; refuses to start without a pseudonymisation key."""
    from evaluation.data.pseudonymise import load_key

    try:
        key = load_key(args.key_file)
    except PseudonymKeyError as err:
        raise PseudonymKeyError(
            "Portalen startar inte utan pseudonymiseringsnyckel (--key-file eller "
            f"$EVALUATION_KEY). / The portal does not start without a pseudonymisation key: "
            f"{err}") from None
    _setup(args.db, key=key, host=args.host)
    _require_database(args.db)
    from waitress import serve

    from evaluation.portal.identity import set_key
    from evaluation.portal.wsgi import application

    set_key(key)
    print(f"portal serve: http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
    serve(application, host=args.host, port=args.port, threads=args.threads, ident="",
          clear_untrusted_proxy_headers=True)
    return "portal serve: stopped"


def cmd_export(args: argparse.Namespace) -> str:
    """Write the four validated tables of the whole database."""
    _setup(args.db)
    _require_database(args.db)
    from evaluation.portal import audit
    from evaluation.portal.models import Episode
    from evaluation.portal.tables import export_tables

    summary = export_tables(Episode.objects.all(), args.out)
    audit.record(None, "export", username="kommandorad",
                 detail=f"hela databasen: {summary.n_accepted} rader godkända, "
                        f"{summary.n_quarantined} i karantän")
    return "portal export: " + summary.line()


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluation portal`` and its sub-commands on the CLI's sub-parsers."""
    portal = subparsers.add_parser(
        "portal",
        help="the Webbkollen web portal: registration at each follow-up and ending",
        description="Web registration of placement episodes, follow-ups and endings with a "
        "live overview (Django, served by waitress). SQLite by default; PostgreSQL when "
        "DATABASE_URL is set.",
    )
    sub = portal.add_subparsers(dest="portal_command", required=True, metavar="ACTION")

    p = sub.add_parser("init", help="create or migrate the database",
                       description="Create or migrate the database; --demo adds synthetic "
                       "cases for municipalities 0180 and 1480.")
    p.add_argument("--db", default="portal.sqlite3", help=_DB_HELP)
    p.add_argument("--demo", action="store_true", help="add synthetic demo cases")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("adduser", help="add a user (password from standard input or prompted)")
    p.add_argument("name", help="user name")
    p.add_argument("--municipality", required=True, help="four-digit municipality code")
    p.add_argument("--role", required=True, choices=ROLE_NAMES)
    p.add_argument("--region", default=None,
                   help="admins only: two-digit county code (default: the whole service)")
    p.add_argument("--replace", action="store_true",
                   help="change password, role and municipality of an existing user")
    p.add_argument("--db", default="portal.sqlite3", help=_DB_HELP)
    p.set_defaults(func=cmd_adduser)

    p = sub.add_parser("serve", help="serve the portal with waitress",
                       description="Serve the portal (waitress). Refuses to start without the "
                       "pseudonymisation key (--key-file or $EVALUATION_KEY). Cookies are "
                       "marked Secure unless the host is localhost: put it behind HTTPS.")
    p.add_argument("--db", default="portal.sqlite3", help=_DB_HELP)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    p.add_argument("--key-file", default=None, help="key file made by `evaluation keygen`")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("export", help="write the four tables as `evaluation validate` does")
    p.add_argument("--db", default="portal.sqlite3", help=_DB_HELP)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_export)
    return portal
