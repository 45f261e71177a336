"""URLs of the portal (Swedish paths)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from evaluation.portal import views
from evaluation.portal.forms import login_form_class

_patterns = [
    path("", views.home, name="home"),
    path("logga-in/", auth_views.LoginView.as_view(
        template_name="portal/login.html", redirect_authenticated_user=True,
        authentication_form=login_form_class()), name="login"),
    path("logga-ut/", auth_views.LogoutView.as_view(), name="logout"),
    path("barn/sok/", views.lookup, name="lookup"),
    path("barn/", views.child, name="child"),
    path("episod/ny/", views.episode_new, name="episode_new"),
    path("episod/<uuid:pk>/", views.episode, name="episode"),
    path("episod/<uuid:pk>/andra/", views.episode_edit, name="episode_edit"),
    path("episod/<uuid:pk>/uppfoljning/", views.followup_new, name="followup_new"),
    path("episod/<uuid:pk>/avslut/", views.ending_new, name="ending_new"),
    path("oversikt/", views.overview, name="overview"),
    path("export/", views.export, name="export"),
    path("logg/", views.audit_log, name="audit"),
    path("style.css", views.stylesheet, name="style"),
]

urlpatterns = [path("", include((_patterns, "portal"), namespace="portal"))]
