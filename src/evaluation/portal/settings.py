"""Django settings of the portal, configured in code (no ``manage.py``, no settings module).

:func:`configure` is called once by the ``evaluation portal`` commands (and by the tests) before
anything else of Django is imported; it is idempotent. Storage is an SQLite file by default and
PostgreSQL when the environment variable ``DATABASE_URL`` is set
(``postgresql://user:password@host:5432/name``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

__all__ = ["SESSION_MINUTES", "configure", "database_settings", "is_local_host"]

#: Idle minutes after which a session expires (every request renews it).
SESSION_MINUTES = 30

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "testserver"}


def is_local_host(host: str) -> bool:
    """True for a loopback host name or address (cookies may then go without ``Secure``)."""
    return host in _LOCAL_HOSTS


def database_settings(db_path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Django ``DATABASES['default']`` for ``DATABASE_URL`` or an SQLite file.

    Parameters
    ----------
    db_path : str or path-like, optional
        SQLite file; ignored when ``DATABASE_URL`` is set. None (without ``DATABASE_URL``)
        gives an in-memory database, used only while collecting doctests.

    Returns
    -------
    dict
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return _postgresql(url)
    name = str(Path(db_path).resolve()) if db_path is not None else ":memory:"
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            # Writers queue instead of failing with "database is locked" (Django >= 5.1).
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def _postgresql(url: str) -> dict[str, Any]:
    """``postgresql://user:password@host:port/name?sslmode=require`` as Django settings."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    from evaluation.errors import ParameterError

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("postgres", "postgresql") or not name:
        raise ParameterError(
            "DATABASE_URL ska ha formen postgresql://användare:lösenord@värd:port/databas. / "
            "DATABASE_URL must look like postgresql://user:password@host:port/database.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 0,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def _secret_key(key: bytes | None) -> str:
    """Django's SECRET_KEY: derived from the pseudonymisation key when serving (sessions then
    survive a restart), random otherwise (commands that sign nothing)."""
    if key is None:
        return secrets.token_hex(32)
    return hmac.new(key, b"evaluation-portal/django-secret-key", hashlib.sha256).hexdigest()


def configure(
    db_path: str | os.PathLike[str] | None = None,
    *,
    key: bytes | None = None,
    host: str = "127.0.0.1",
    debug: bool = False,
    fast_hashing: bool = False,
) -> bool:
    """Configure Django for the portal and run ``django.setup()``.

    Parameters
    ----------
    db_path : str or path-like, optional
        SQLite database file (see :func:`database_settings`).
    key : bytes, optional
        Pseudonymisation key; when given, Django's secret key is derived from it.
    host : str, default "127.0.0.1"
        Host the server listens on: cookies are marked ``Secure`` unless it is a loopback
        host (then plain http on localhost works).
    debug : bool, default False
        Django's DEBUG (never in production).
    fast_hashing : bool, default False
        Use a fast password hasher (tests only).

    Returns
    -------
    bool
        False when Django was already configured (nothing changed).
    """
    import django
    from django.conf import settings

    if settings.configured:
        return False
    secure = not is_local_host(host)
    here = Path(__file__).resolve().parent
    options: dict[str, Any] = dict(  # noqa: C408  (settings read best as keywords)
        DEBUG=debug,
        SECRET_KEY=_secret_key(key),
        ALLOWED_HOSTS=["*"] if host in ("0.0.0.0", "::") else sorted(_LOCAL_HOSTS | {host}),
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "axes",
            "evaluation.portal.apps.PortalConfig",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.locale.LocaleMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "evaluation.portal.security.SecurityHeadersMiddleware",
            # AxesMiddleware last: it turns a lockout into a response.
            "axes.middleware.AxesMiddleware",
        ],
        AUTHENTICATION_BACKENDS=[
            "axes.backends.AxesStandaloneBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        ROOT_URLCONF="evaluation.portal.urls",
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(here / "templates")],
            "APP_DIRS": False,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        DATABASES={"default": database_settings(db_path)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        AUTH_PASSWORD_VALIDATORS=[
            {"NAME": "django.contrib.auth.password_validation."
                     "UserAttributeSimilarityValidator"},
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
             "OPTIONS": {"min_length": 12}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
        ],
        LANGUAGE_CODE="sv",
        LANGUAGES=[("sv", "Svenska")],
        USE_I18N=True,
        USE_TZ=True,
        TIME_ZONE="Europe/Stockholm",
        LOGIN_URL="portal:login",
        LOGIN_REDIRECT_URL="portal:home",
        LOGOUT_REDIRECT_URL="portal:login",
        # Sessions: in the database, HttpOnly, SameSite, Secure off localhost, idle expiry.
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        SESSION_COOKIE_AGE=SESSION_MINUTES * 60,
        SESSION_SAVE_EVERY_REQUEST=True,
        SESSION_EXPIRE_AT_BROWSER_CLOSE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="webbkollen_session",
        CSRF_COOKIE_HTTPONLY=True,
        CSRF_COOKIE_SAMESITE="Strict",
        CSRF_COOKIE_SECURE=secure,
        SECURE_CONTENT_TYPE_NOSNIFF=True,
        SECURE_REFERRER_POLICY="same-origin",
        SECURE_CROSS_ORIGIN_OPENER_POLICY="same-origin",
        X_FRAME_OPTIONS="DENY",
        # django-axes: five failed logins per user name and address lock for 15 minutes.
        AXES_FAILURE_LIMIT=5,
        AXES_COOLOFF_TIME=timedelta(minutes=15),
        AXES_LOCKOUT_PARAMETERS=[["username", "ip_address"]],
        AXES_RESET_ON_SUCCESS=True,
        AXES_LOCKOUT_TEMPLATE="portal/locked.html",
        AXES_VERBOSE=False,
        AXES_USERNAME_CALLABLE="evaluation.portal.security.axes_username",
        AXES_SENSITIVE_PARAMETERS=["username", "password"],
        # Logging: warnings and errors of Django only, never request bodies.
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"console": {"class": "logging.StreamHandler"}},
            "loggers": {
                "django": {"handlers": ["console"], "level": "WARNING"},
                "axes": {"handlers": ["console"], "level": "WARNING"},
            },
        },
    )
    if fast_hashing:
        options["PASSWORD_HASHERS"] = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.configure(**options)
    django.setup()
    return True
