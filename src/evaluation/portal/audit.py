"""The audit log: every login, look-up, registration, change and export, with who and when.

Nothing written here holds an identity number: every text passes through
:func:`evaluation.data.safe_text.mask_identity_numbers` (a user name typed as a personnummer at
a failed login is masked too).
"""

from __future__ import annotations

from typing import Any

from evaluation.data.safe_text import mask_identity_numbers

__all__ = ["ACTIONS", "connect_signals", "record"]

#: Actions in the log and their Swedish wording (shown on the audit page).
ACTIONS = {
    "login": "Inloggning",
    "login_failed": "Misslyckad inloggning",
    "logout": "Utloggning",
    "lookup": "Sökning på barn",
    "create_episode": "Ny placeringsepisod",
    "change_episode": "Ändrad placeringsepisod",
    "create_followup": "Ny uppföljning",
    "create_ending": "Avslut registrerat",
    "export": "Export",
    "create_user": "Ny användare",
}


def record(
    user: Any,
    action: str,
    *,
    obj: Any = None,
    municipality: str = "",
    detail: str = "",
    username: str | None = None,
) -> None:
    """Write one audit event.

    Parameters
    ----------
    user : django.contrib.auth.models.User or None
        Who did it (None for a failed login or a command-line action).
    action : str
        One of :data:`ACTIONS`.
    obj : Episode or Followup, optional
        What it was done to (its type and id are logged).
    municipality : str, optional
        Municipality concerned (scopes what an admin sees).
    detail : str, optional
        Short free text (masked, cut at 300 characters).
    username : str, optional
        Name to log when ``user`` is None.
    """
    from evaluation.portal.models import AuditEvent

    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    name = user.get_username() if user is not None and user.is_authenticated else username or ""
    AuditEvent.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        username=mask_identity_numbers(name)[:150],
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
        municipality_code=str(municipality or "")[:4],
        detail=mask_identity_numbers(detail)[:300],
    )


def _municipality(user: Any) -> str:
    profile = getattr(user, "portal_profile", None)
    return profile.municipality_code if profile is not None else ""


def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(user, "login", municipality=_municipality(user))


def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, "logout", municipality=_municipality(user))


def _on_failed(sender: Any, credentials: dict[str, Any], request: Any = None,
               **kwargs: Any) -> None:
    record(None, "login_failed", username=str(credentials.get("username", "")))


def connect_signals() -> None:
    """Connect the login, logout and failed-login signals to the log (once)."""
    from django.contrib.auth import signals

    signals.user_logged_in.connect(_on_login, dispatch_uid="portal_audit_login")
    signals.user_logged_out.connect(_on_logout, dispatch_uid="portal_audit_logout")
    signals.user_login_failed.connect(_on_failed, dispatch_uid="portal_audit_failed")
