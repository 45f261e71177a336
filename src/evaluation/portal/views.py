"""Views of the portal: look-up, registration, overview, export and the audit log.

Access (see :mod:`evaluation.portal.security`): registrars look children up, register and see
their own municipality's cases; analysts see their municipality's overview and export it;
admins see the overview, export and audit log of their region or of the whole service.
Everybody sees the overview of their municipality beside all. Cases are always taken from a
scoped queryset, so an id of another municipality is not found (404).
"""

from __future__ import annotations

import io
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from evaluation.data.dictionary import load_dictionary
from evaluation.data.rules import parse_date
from evaluation.portal import audit
from evaluation.portal.charts import overview_sections
from evaluation.portal.forms import ChildLookupForm, DictionaryForm
from evaluation.portal.identity import child_from_number
from evaluation.portal.models import AuditEvent, Episode, Followup
from evaluation.portal.registration import check_rows
from evaluation.portal.security import (
    CASE_ROLES,
    EXPORT_ROLES,
    episodes_for,
    in_scope,
    profile_of,
    role_required,
)
from evaluation.portal.tables import episode_row, export_tables, followup_row, overview_source

CHILD = "portal_child"   # session key: pseudonym, sex, birth year of the child looked up


def _display(values: dict[str, str], table: str) -> list[tuple[str, str]]:
    """(Swedish label, value label) of stored values, in dictionary order."""
    cols = load_dictionary().table(table)
    out = []
    for name, col in cols.items():
        v = values.get(name)
        if v in (None, "") or col.source == "derived" or col.identifier != "none":
            continue
        if col.type == "code":
            v = col.code_label(v, "sv")
        elif col.type == "boolean":
            v = "Ja" if v == "true" else "Nej"
        out.append((col.label["sv"], v))
    return out


def home(request: Any) -> Any:
    """Start page: what the user may do."""
    if not request.user.is_authenticated:
        return redirect("portal:login")
    profile = profile_of(request.user)
    recent = episodes_for(request.user)[:10] if profile is not None else []
    return render(request, "portal/home.html", {"profile": profile, "recent": recent})


@sensitive_post_parameters("personnummer")
@role_required(*CASE_ROLES)
@require_http_methods(["GET", "POST"])
def lookup(request: Any) -> Any:
    """Type the child's number; it becomes the pseudonym at once and is not kept."""
    form = ChildLookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        child = child_from_number(form.cleaned_data["personnummer"])
        request.session[CHILD] = child
        profile = profile_of(request.user)
        audit.record(request.user, "lookup", municipality=profile.municipality_code,
                     detail=f"barn {child['child_id'][:12]}")
        return redirect("portal:child")
    return render(request, "portal/lookup.html", {"form": form}, status=400 if form.errors else 200)


@role_required(*CASE_ROLES)
def child(request: Any) -> Any:
    """The child looked up: earlier registrations in the own municipality."""
    current = request.session.get(CHILD)
    if not current:
        return redirect("portal:lookup")
    episodes = episodes_for(request.user).filter(child_id=current["child_id"]) \
        .order_by("created_at")
    return render(request, "portal/child.html", {"child": current, "episodes": episodes})


def _already_sent(queryset: Any, request: Any) -> Any:
    """The object a POST with this form's ``submission_id`` already registered, or None."""
    if request.method != "POST":
        return None
    try:
        sid = uuid.UUID(str(request.POST.get("submission_id", "")))
    except ValueError:
        return None
    return queryset.filter(submission_id=sid).first()


def _episode_context(user: Any, child_id: str, exclude: Any = None) -> list[dict[str, str]]:
    qs = episodes_for(user).filter(child_id=child_id)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return [episode_row(e) for e in qs.order_by("created_at")]


def _render_form(request: Any, form: DictionaryForm, title: str, **extra: Any) -> Any:
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "portal/form.html", {"form": form, "title": title, **extra},
                  status=status)


@role_required(*CASE_ROLES)
@require_http_methods(["GET", "POST"])
def episode_new(request: Any) -> Any:
    """Register a new placement episode for the child looked up."""
    current = request.session.get(CHILD)
    if not current:
        messages.info(request, "Sök först fram barnet med personnummer eller samordningsnummer.")
        return redirect("portal:lookup")
    profile = profile_of(request.user)
    new_id = uuid.uuid4()
    result: dict[str, Any] = {}

    def check(values: dict[str, dict[str, str]]) -> Any:
        row = {**values.get("episodes", {}), "episode_id": new_id.hex,
               "child_id": current["child_id"], "municipality_code": profile.municipality_code,
               "sex": current["sex"], "birth_year": str(current["birth_year"])}
        context = _episode_context(request.user, current["child_id"])
        result["checked"] = check_rows({"episodes": [*context, row]},
                                       target={"episodes": len(context)},
                                       also=("no_overlapping_episodes",))
        return result["checked"]

    done = _already_sent(episodes_for(request.user), request)
    if done is not None:   # the same form sent twice: nothing new
        return redirect("portal:episode", pk=done.pk)
    form = DictionaryForm(request.POST or None, kind="episode", check=check)
    if request.method == "POST" and form.is_valid():
        sid = uuid.UUID(form.cleaned_data["submission_id"])
        stored = {k: v for k, v in result["checked"].rows["episodes"].items()
                  if k not in ("episode_id", "child_id", "municipality_code")}
        try:
            with transaction.atomic():
                ep = Episode.objects.create(
                    id=new_id, child_id=current["child_id"],
                    municipality_code=profile.municipality_code, values=stored,
                    submission_id=sid, created_by=request.user)
                audit.record(request.user, "create_episode", obj=ep,
                             municipality=profile.municipality_code)
        except IntegrityError:
            done = get_object_or_404(episodes_for(request.user), submission_id=sid)
            return redirect("portal:episode", pk=done.pk)
        messages.success(request, "Placeringsepisoden är registrerad.")
        return redirect("portal:episode", pk=ep.pk)
    return _render_form(request, form, "Ny placeringsepisod")


@role_required(*CASE_ROLES)
def episode(request: Any, pk: uuid.UUID) -> Any:
    """One episode with its follow-ups."""
    ep = get_object_or_404(episodes_for(request.user), pk=pk)
    followups = [(f, _display(f.values, "followups")) for f in ep.followups.all()]
    return render(request, "portal/episode.html", {
        "episode": ep, "values": _display(ep.values, "episodes"), "followups": followups,
        "ended": bool(ep.values.get("end_date"))})


@role_required(*CASE_ROLES)
@require_http_methods(["GET", "POST"])
def episode_edit(request: Any, pk: uuid.UUID) -> Any:
    """Change the start details of an episode."""
    ep = get_object_or_404(episodes_for(request.user), pk=pk)
    result: dict[str, Any] = {}

    def check(values: dict[str, dict[str, str]]) -> Any:
        base = {k: v for k, v in episode_row(ep).items() if k not in _start_columns()}
        row = {**base, **values.get("episodes", {})}
        context = _episode_context(request.user, ep.child_id, exclude=ep.pk)
        fus = [followup_row(f) for f in ep.followups.all()]
        result["checked"] = check_rows(
            {"episodes": [*context, row], "followups": fus}, target={"episodes": len(context)},
            also=("no_overlapping_episodes", "followup_within_episode"))
        return result["checked"]

    cols = load_dictionary().table("episodes")
    initial = {k: (v == "true" if cols[k].type == "boolean" and cols[k].group else v)
               for k, v in ep.values.items() if k in cols}
    form = DictionaryForm(request.POST or None, kind="episode", check=check, initial=initial)
    if request.method == "POST" and form.is_valid():
        stored = {k: v for k, v in result["checked"].rows["episodes"].items()
                  if k not in ("episode_id", "child_id", "municipality_code")}
        with transaction.atomic():
            ep.values = stored
            ep.save(update_fields=["values", "updated_at"])
            audit.record(request.user, "change_episode", obj=ep,
                         municipality=ep.municipality_code)
        messages.success(request, "Ändringen är sparad.")
        return redirect("portal:episode", pk=ep.pk)
    return _render_form(request, form, "Ändra placeringsepisod", episode=ep)


def _start_columns() -> set[str]:
    return {c.name for c in load_dictionary().table("episodes").values()
            if c.stage == "start" and c.source == "entered" and c.identifier == "none"
            and c.name != "municipality_code"}


def _save_followup(request: Any, ep: Episode, kind: str, checked: Any, sid: uuid.UUID) -> Any:
    row = checked.rows["followups"]
    values = {k: v for k, v in row.items()
              if k not in ("episode_id", "followup_date", "followup_type")}
    with transaction.atomic():
        fu = Followup.objects.create(
            episode=ep, followup_date=parse_date(row["followup_date"]).date(),
            followup_type=row["followup_type"], values=values, submission_id=sid,
            created_by=request.user)
        if kind == "ending":
            ep.values = {**ep.values, **checked.rows["episodes"]}
            for k in ("episode_id", "child_id", "municipality_code"):
                ep.values.pop(k, None)
            ep.save(update_fields=["values", "updated_at"])
        audit.record(request.user, "create_ending" if kind == "ending" else "create_followup",
                     obj=fu, municipality=ep.municipality_code)
    return fu


def _followup_view(request: Any, pk: uuid.UUID, kind: str) -> Any:
    ep = get_object_or_404(episodes_for(request.user), pk=pk)
    if kind == "ending" and ep.values.get("end_date"):
        messages.info(request, "Episoden är redan avslutad.")
        return redirect("portal:episode", pk=ep.pk)
    result: dict[str, Any] = {}

    def check(values: dict[str, dict[str, str]]) -> Any:
        existing = [followup_row(f) for f in ep.followups.all()]
        ep_row = {**episode_row(ep), **values.get("episodes", {})}
        fu = {**values.get("followups", {}), "episode_id": ep.episode_id,
              "followup_type": "ENDING" if kind == "ending" else "FOLLOWUP"}
        if kind == "ending":
            fu["followup_date"] = values.get("episodes", {}).get("end_date", "")
        target = {"followups": len(existing)}
        if kind == "ending":
            target["episodes"] = 0
        result["checked"] = check_rows({"episodes": [ep_row], "followups": [*existing, fu]},
                                       target=target, also=("followup_within_episode",))
        return result["checked"]

    if _already_sent(Followup.objects.filter(episode=ep), request) is not None:
        return redirect("portal:episode", pk=ep.pk)
    form = DictionaryForm(request.POST or None, kind=kind, check=check)
    if request.method == "POST" and form.is_valid():
        sid = uuid.UUID(form.cleaned_data["submission_id"])
        try:
            _save_followup(request, ep, kind, result["checked"], sid)
        except IntegrityError:
            if Followup.objects.filter(submission_id=sid, episode=ep).exists():
                return redirect("portal:episode", pk=ep.pk)
            form.add_error(None, "Det finns redan en uppföljning med det datumet för episoden.")
            return _render_form(request, form, "Ny uppföljning", episode=ep)
        messages.success(request, "Avslutet är registrerat." if kind == "ending"
                         else "Uppföljningen är registrerad.")
        return redirect("portal:episode", pk=ep.pk)
    title = "Registrera avslut" if kind == "ending" else "Ny uppföljning"
    return _render_form(request, form, title, episode=ep)


@role_required(*CASE_ROLES)
@require_http_methods(["GET", "POST"])
def followup_new(request: Any, pk: uuid.UUID) -> Any:
    """Register a follow-up of an episode."""
    return _followup_view(request, pk, "followup")


@role_required(*CASE_ROLES)
@require_http_methods(["GET", "POST"])
def ending_new(request: Any, pk: uuid.UUID) -> Any:
    """Register the ending of an episode: end date and reason, destination, aftercare and the
    ending assessment with the child's own view."""
    return _followup_view(request, pk, "ending")


def _overview_municipality(request: Any, profile: Any) -> str | None:
    if profile.role != "admin":
        return profile.municipality_code
    code = request.GET.get("kommun", "").strip()
    if not code or code == "all":
        return None
    if len(code) != 4 or not code.isdigit() or not in_scope(profile, code):
        raise Http404
    return code


@role_required()
def overview(request: Any) -> Any:
    """The Webbkollen bar charts: the municipality beside all, with disclosure control."""
    profile = profile_of(request.user)
    municipality = _overview_municipality(request, profile)
    sections, has_selected = overview_sections(overview_source(), municipality)
    return render(request, "portal/overview.html", {
        "sections": sections, "municipality": municipality, "has_selected": has_selected,
        "profile": profile})


@role_required(*EXPORT_ROLES)
@require_http_methods(["GET", "POST"])
def export(request: Any) -> Any:
    """Download the validated tables of the user's scope as a zip of CSV files."""
    profile = profile_of(request.user)
    if request.method == "GET":
        return render(request, "portal/export.html", {"profile": profile})
    qs = episodes_for(request.user, cases=False)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="portal-download-") as tmp:
        summary = export_tables(qs, tmp)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(Path(tmp).glob("*.csv")):
                zf.write(p, p.name)
    scope = (profile.municipality_code if profile.role != "admin"
             else profile.region_code or "alla")
    audit.record(request.user, "export", municipality=profile.municipality_code,
                 detail=f"omfattning {scope}: {summary.n_accepted} rader godkända, "
                        f"{summary.n_quarantined} i karantän")
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="webbkollen-{scope}.zip"'
    return response


@role_required("admin")
def audit_log(request: Any) -> Any:
    """The latest 200 audit events of the admin's region (or of the whole service)."""
    profile = profile_of(request.user)
    events = AuditEvent.objects.all()
    if profile.region_code:
        events = events.filter(municipality_code__startswith=profile.region_code)
    rows = [(e, audit.ACTIONS.get(e.action, e.action)) for e in events[:200]]
    return render(request, "portal/audit.html", {"rows": rows})


def stylesheet(request: Any) -> Any:
    """The one stylesheet (served by the app: no static-file set-up, no CDN)."""
    css = (Path(__file__).parent / "templates" / "portal" / "style.css").read_text("utf-8")
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "max-age=3600"
    return response
