"""Django application configuration of the portal."""

from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The Webbkollen registration portal (app label ``portal``)."""

    name = "evaluation.portal"
    label = "portal"
    verbose_name = "Webbkollen"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the audit log to Django's login signals."""
        from evaluation.portal import audit

        audit.connect_signals()
