"""Database models of the portal: user profiles, episodes, follow-ups and the audit log.

The dictionary columns of an episode or a follow-up are kept as validated text in ``values``
(a JSON object keyed by the dictionary's column names), so that a column added to
``dictionary.yaml`` needs no migration: the form, the storage and the export follow the
dictionary. Ids are random UUIDs (not guessable). No model holds an identity number: the
child is known only by the keyed pseudonym ``child_id``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

__all__ = ["ROLES", "AuditEvent", "Episode", "Followup", "Profile"]

ROLES = (
    ("registrar", "Registrerare"),
    ("analyst", "Analytiker"),
    ("admin", "Administratör"),
)


class Profile(models.Model):
    """A portal user's municipality and role.

    Attributes
    ----------
    role : str
        ``registrar`` (registers and sees the own municipality's cases), ``analyst`` (the
        own municipality's overview and export) or ``admin`` (overview, export and audit log
        of a region or of the whole service).
    municipality_code : str
        Four-digit municipality code (SCB).
    region_code : str
        For admins: two-digit county code of the region, or empty for the whole service.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_profile"
    )
    role = models.CharField(max_length=16, choices=ROLES)
    municipality_code = models.CharField(max_length=4)
    region_code = models.CharField(max_length=2, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role}, {self.municipality_code})"


class Episode(models.Model):
    """A placement episode (one row of the table ``episodes``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    child_id = models.CharField(max_length=64, db_index=True)
    municipality_code = models.CharField(max_length=4, db_index=True)
    values = models.JSONField(default=dict)
    submission_id = models.UUIDField(unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ("-created_at",)

    @property
    def episode_id(self) -> str:
        """The dictionary's ``episode_id``: the UUID as 32 hex characters."""
        return self.id.hex


class Followup(models.Model):
    """A follow-up or ending assessment (one row of the table ``followups``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="followups")
    followup_date = models.DateField()
    followup_type = models.CharField(max_length=16)
    values = models.JSONField(default=dict)
    submission_id = models.UUIDField(unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ("followup_date",)
        constraints = (
            # The dictionary's primary key of followups.
            models.UniqueConstraint(fields=["episode", "followup_date"],
                                    name="portal_followup_episode_date"),
        )


class AuditEvent(models.Model):
    """Who did what, and when (never an identity number)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, db_index=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    municipality_code = models.CharField(max_length=4, blank=True, db_index=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("-at", "-id")
