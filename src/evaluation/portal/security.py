"""Security helpers: response headers, role checks and scoped querysets.

Every view that shows or changes cases takes its objects from :func:`episodes_for`, so a user
never reaches another municipality's cases: an id from elsewhere is simply not found (404, the
same answer as for an id that does not exist, so guessing tells nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied

from evaluation.data.safe_text import mask_identity_numbers

__all__ = [
    "CASE_ROLES",
    "EXPORT_ROLES",
    "SecurityHeadersMiddleware",
    "axes_username",
    "episodes_for",
    "in_scope",
    "municipalities_in_scope",
    "profile_of",
    "role_required",
]

#: Roles that register and see individual cases.
CASE_ROLES = ("registrar",)
#: Roles that may export the pseudonymised tables.
EXPORT_ROLES = ("analyst", "admin")

_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


class SecurityHeadersMiddleware:
    """Content-Security-Policy, no caching of pages and a restrictive Permissions-Policy."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", _CSP)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if not request.path.endswith(".css"):
            response["Cache-Control"] = "no-store"
        return response


def axes_username(request: Any, credentials: dict[str, Any] | None = None) -> str:
    """User name as django-axes stores it: identity numbers masked (``AXES_USERNAME_CALLABLE``)."""
    name = (credentials or {}).get("username")
    if name is None and request is not None:
        name = request.POST.get("username", "")
    return mask_identity_numbers(name or "")


def profile_of(user: Any) -> Any:
    """The user's :class:`~evaluation.portal.models.Profile`, or None."""
    if user is None or not user.is_authenticated:
        return None
    return getattr(user, "portal_profile", None)


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: logged in (else to the login page), with a profile and one of ``roles``
    (else 403)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        from django.contrib.auth.decorators import login_required

        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            profile = profile_of(request.user)
            if profile is None or (roles and profile.role not in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


def municipalities_in_scope(profile: Any) -> tuple[str, ...] | None:
    """Municipality codes a user's aggregate views and exports cover.

    Returns
    -------
    tuple of str or None
        ``(own code,)`` for registrars and analysts; for admins None (the whole service) or,
        with a region, the prefix is checked by :func:`in_scope`.
    """
    if profile.role == "admin":
        return None
    return (profile.municipality_code,)


def in_scope(profile: Any, municipality_code: str) -> bool:
    """True when ``municipality_code`` lies within what ``profile`` may see in aggregate."""
    if profile.role == "admin":
        return not profile.region_code or municipality_code.startswith(profile.region_code)
    return municipality_code == profile.municipality_code


def episodes_for(user: Any, *, cases: bool = True) -> Any:
    """Episodes the user may reach.

    Parameters
    ----------
    user : User
    cases : bool, default True
        True: individual cases (registrars: their municipality; everybody else: none).
        False: the rows behind an export (analysts: their municipality; admins: their region or
        the whole service; registrars: none).

    Returns
    -------
    QuerySet of Episode
    """
    from evaluation.portal.models import Episode

    profile = profile_of(user)
    qs = Episode.objects.all()
    if profile is None:
        return qs.none()
    if cases:
        if profile.role not in CASE_ROLES:
            return qs.none()
        return qs.filter(municipality_code=profile.municipality_code)
    if profile.role not in EXPORT_ROLES:
        return qs.none()
    if profile.role == "admin":
        if profile.region_code:
            return qs.filter(municipality_code__startswith=profile.region_code)
        return qs
    return qs.filter(municipality_code=profile.municipality_code)
