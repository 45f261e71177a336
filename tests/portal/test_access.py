"""The access matrix: every role x own/other municipality x every view and the export.

Registrars register and see their own municipality's cases; analysts see the overview and
export of their municipality; admins (whole service, or a region) see overview, export and the
audit log. Another municipality's case is not found (404), a view outside the role is refused
(403), and nobody logged out gets past the login page.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile

import pytest
from django.test import Client

from evaluation.portal.models import Episode
from tests.portal.conftest import make_episode, make_user, synthetic_number

pytestmark = pytest.mark.usefixtures("db")

OWN, OTHER = "0180", "1480"
ROLES = {
    "registrar": ("registrar", OWN, ""),
    "analyst": ("analyst", OWN, ""),
    "admin": ("admin", OWN, ""),
    "admin_region01": ("admin", OWN, "01"),
}

CASE_VIEWS = ["/episod/{pk}/", "/episod/{pk}/andra/", "/episod/{pk}/uppfoljning/",
              "/episod/{pk}/avslut/"]


@pytest.fixture
def episodes():
    return {"own": make_episode(OWN), "other": make_episode(OTHER)}


def _client(role_key: str) -> Client:
    role, muni, region = ROLES[role_key]
    user = make_user(f"u-{role_key}", role, muni, region)
    client = Client()
    client.force_login(user)
    return client


def _expected_case(role_key: str, where: str) -> int:
    if ROLES[role_key][0] != "registrar":
        return 403
    return 200 if where == "own" else 404


@pytest.mark.parametrize("role_key", list(ROLES))
@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("view", CASE_VIEWS)
def test_case_views_get(role_key, where, view, episodes):
    client = _client(role_key)
    url = view.format(pk=episodes[where].pk)
    assert client.get(url).status_code == _expected_case(role_key, where)


@pytest.mark.parametrize("role_key", list(ROLES))
@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("view", CASE_VIEWS[1:])
def test_case_views_post_never_change_what_is_out_of_reach(role_key, where, view, episodes):
    client = _client(role_key)
    ep = episodes[where]
    before = (dict(ep.values), ep.followups.count())
    data = {"submission_id": uuid.uuid4().hex, "start_date": "2024-02-01",
            "legal_basis": "LVU3", "placement_type": "SIS", "followup_date": "2024-06-01",
            "end_date": "2024-12-01", "end_reason": "PLANNED"}
    status = client.post(view.format(pk=ep.pk), data).status_code
    expected = _expected_case(role_key, where)
    if expected == 200:
        assert status == 302
    else:
        assert status == expected
        ep.refresh_from_db()
        assert (ep.values, ep.followups.count()) == before


@pytest.mark.parametrize("role_key", list(ROLES))
@pytest.mark.parametrize("view,allowed", [
    ("/", set(ROLES)),
    ("/barn/sok/", {"registrar"}),
    ("/oversikt/", set(ROLES)),
    ("/export/", {"analyst", "admin", "admin_region01"}),
    ("/logg/", {"admin", "admin_region01"}),
])
def test_pages_by_role(role_key, view, allowed):
    assert _client(role_key).get(view).status_code == (200 if role_key in allowed else 403)


@pytest.mark.parametrize("role_key", list(ROLES))
def test_new_episode_and_child_page_only_for_registrars(role_key):
    client = _client(role_key)
    if role_key == "registrar":
        assert client.get("/episod/ny/").status_code == 302   # look the child up first
        client.post("/barn/sok/", {"personnummer": synthetic_number(11)})
        assert client.get("/barn/").status_code == 200
        assert client.get("/episod/ny/").status_code == 200
    else:
        for url in ("/barn/", "/episod/ny/"):
            assert client.get(url).status_code == 403
        assert client.post("/barn/sok/",
                           {"personnummer": synthetic_number(11)}).status_code == 403


def test_a_registrar_finds_only_the_own_municipalitys_registrations_of_a_child():
    from evaluation.data.pseudonymise import pseudonymise_id
    from tests.portal.conftest import TEST_KEY

    number = synthetic_number(12)
    child = pseudonymise_id(number, TEST_KEY)
    own, other = make_episode(OWN, child=child), make_episode(OTHER, child=child)
    client = _client("registrar")
    client.post("/barn/sok/", {"personnummer": number})
    page = client.get("/barn/").content.decode()
    assert str(own.pk) in page and str(other.pk) not in page


@pytest.mark.parametrize("role_key,kommun,status", [
    ("admin", OTHER, 200), ("admin", OWN, 200), ("admin_region01", OWN, 200),
    ("admin_region01", OTHER, 404), ("admin", "x' or 1=1", 404),
    ("analyst", OTHER, 200), ("registrar", OTHER, 200),
])
def test_overview_scope(role_key, kommun, status, episodes):
    response = _client(role_key).get("/oversikt/", {"kommun": kommun})
    assert response.status_code == status
    if status == 200 and ROLES[role_key][0] != "admin":   # always the own municipality
        assert response.context["municipality"] == OWN


def _export_rows(client: Client) -> list[dict[str, str]]:
    response = client.post("/export/")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        assert {"episodes.csv", "placements.csv", "followups.csv", "referrals.csv",
                "quarantine.csv", "problems.csv"} <= set(zf.namelist())
        text = zf.read("episodes.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("role_key,expected", [
    ("analyst", {OWN}), ("admin", {OWN, OTHER}), ("admin_region01", {OWN}),
])
def test_export_scope(role_key, expected, episodes):
    rows = _export_rows(_client(role_key))
    assert {r["municipality_code"] for r in rows} == expected
    ids = {r["episode_id"] for r in rows}
    assert episodes["own"].pk.hex in ids
    assert (episodes["other"].pk.hex in ids) == (OTHER in expected)


def test_registrars_cannot_export():
    assert _client("registrar").post("/export/").status_code == 403


def test_export_is_audited():
    from evaluation.portal.models import AuditEvent

    _export_rows(_client("analyst"))
    event = AuditEvent.objects.get(action="export")
    assert event.username == "u-analyst" and event.municipality_code == OWN


@pytest.mark.parametrize("url", ["/", "/barn/sok/", "/barn/", "/episod/ny/", "/oversikt/",
                                 "/export/", "/logg/", "/episod/{pk}/",
                                 "/episod/{pk}/uppfoljning/"])
def test_anonymous_users_go_to_the_login_page(url, episodes):
    response = Client().get(url.format(pk=episodes["own"].pk))
    assert response.status_code == 302 and "/logga-in/" in response["Location"]


def test_a_user_without_profile_is_refused():
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.create_user("noprofile", password="x"))
    for url in ("/barn/sok/", "/oversikt/", "/export/", "/logg/"):
        assert client.get(url).status_code == 403


def test_guessed_ids_are_not_found():
    client = _client("registrar")
    assert client.get(f"/episod/{uuid.uuid4()}/").status_code == 404
    assert client.get("/episod/1/").status_code == 404
    assert Episode.objects.count() == 0
