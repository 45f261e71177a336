"""Forms from the data dictionary, validation by the shared validator, identity handling."""

from __future__ import annotations

import re
import uuid

import pandas as pd
import pytest
import yaml
from django.test import Client

from evaluation.data.dictionary import dictionary_path, load_dictionary
from evaluation.data.pseudonymise import pseudonymise_id
from evaluation.data.rawtable import RawTable
from evaluation.data.validate import validate_table
from evaluation.portal import forms as portal_forms
from evaluation.portal.models import AuditEvent, Episode, Followup
from tests.portal.conftest import TEST_KEY, make_episode, make_user, synthetic_number

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def registrar():
    user = make_user("reg0180", "registrar", "0180")
    client = Client()
    client.force_login(user)
    return client


def mine():
    """Episodes registered by the test's registrar (live tests may have left others)."""
    return Episode.objects.filter(created_by__username="reg0180")


def _lookup(client, number):
    return client.post("/barn/sok/", {"personnummer": number})


def _episode_post(**values):
    data = {"submission_id": uuid.uuid4().hex, "start_date": "2025-03-01",
            "legal_basis": "SOL", "placement_type": "FH", "problem_neglect": "on"}
    data.update(values)
    return data


def test_episode_form_fields_labels_help_and_choices_come_from_the_dictionary():
    form = portal_forms.DictionaryForm(kind="episode")
    dic = load_dictionary()
    entered = [c for c in dic.table("episodes").values()
               if c.stage == "start" and c.source == "entered" and c.identifier == "none"
               and c.name != "municipality_code"]
    names = [n for n in form.fields if n != "submission_id"]
    assert sorted(c.name for c in entered) == sorted(names)
    plain = [c.name for c in entered if c.group is None]
    assert names[:len(plain)] == plain   # dictionary order; grouped ones (problems) after
    legal = form.fields["legal_basis"]
    assert legal.label.startswith(dic.label("episodes", "legal_basis", "sv"))
    assert legal.help_text.startswith(dic.column("episodes", "legal_basis").description["sv"])
    codes = [v for v, _ in legal.widget.choices if v]
    assert codes == list(dic.column("episodes", "legal_basis").code_values)
    assert "personnummer" not in form.fields and "child_id" not in form.fields


def test_a_change_in_the_dictionary_changes_the_form(tmp_path, monkeypatch):
    raw = yaml.safe_load(dictionary_path().read_text("utf-8"))
    for col in raw["tables"]["episodes"]["columns"]:
        if col["name"] == "legal_basis":
            col["label"]["sv"] = "Lagrum (ändrad etikett)"
            col["codes"] = col["codes"] + [{"code": "NY", "sv": "Ny kod", "en": "New code"}]
    path = tmp_path / "dictionary.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    monkeypatch.setattr(portal_forms, "load_dictionary", lambda: load_dictionary(path))
    form = portal_forms.DictionaryForm(kind="episode")
    assert form.fields["legal_basis"].label.startswith("Lagrum (ändrad etikett)")
    assert ("NY", "Ny kod") in list(form.fields["legal_basis"].widget.choices)


def test_followup_and_ending_forms_hold_their_dictionary_columns():
    fu = portal_forms.DictionaryForm(kind="followup")
    assert {"followup_date", "goal_attainment", "child_heard", "theme_safety"} <= set(fu.fields)
    assert "followup_type" not in fu.fields
    end = portal_forms.DictionaryForm(kind="ending")
    assert {"end_date", "end_reason", "destination", "aftercare", "child_heard",
            "theme_independence"} <= set(end.fields)
    assert "planned_ending" not in end.fields and "followup_date" not in end.fields


def test_lookup_pseudonymises_at_once_and_never_echoes_the_number(registrar):
    number = synthetic_number(1)
    response = _lookup(registrar, number)
    assert response.status_code == 302
    child = registrar.session["portal_child"]
    assert child["child_id"] == pseudonymise_id(number, TEST_KEY)
    assert number not in str(registrar.session.items())
    page = registrar.get("/barn/").content.decode()
    digits = re.sub(r"\D", "", number)
    assert digits not in re.sub(r"\D", "", page.replace(child["child_id"], ""))


def test_an_invalid_number_is_refused_in_swedish_without_echo(registrar):
    bad = synthetic_number(2)[:-1] + str((int(synthetic_number(2)[-1]) + 1) % 10)
    response = _lookup(registrar, bad)
    html = response.content.decode()
    assert response.status_code == 400
    assert "kontrollsiffran stämmer inte" in html
    assert bad not in html and bad[:8] not in html
    assert 'class="error-summary"' in html and 'aria-invalid="true"' in html


def test_register_episode_and_find_it_again_by_the_same_number(registrar):
    number = synthetic_number(3)
    _lookup(registrar, number)
    response = registrar.post("/episod/ny/", _episode_post())
    assert response.status_code == 302, response.content.decode()[:2000]
    ep = mine().get()
    assert ep.municipality_code == "0180"
    assert ep.values["start_date"] == "2025-03-01" and ep.values["problem_neglect"] == "true"
    assert ep.values["sex"] == "F" and ep.values["birth_year"] == "2012"
    registrar.session.flush()
    registrar.force_login(ep.created_by)
    _lookup(registrar, number.replace("-", ""))
    page = registrar.get("/barn/").content.decode()
    assert str(ep.pk) in page
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "create_episode" in actions and "lookup" in actions


def test_errors_are_the_shared_validators_messages_beside_the_field(registrar):
    _lookup(registrar, synthetic_number(4))
    response = registrar.post("/episod/ny/", _episode_post(start_date="2025-13-45",
                                                            legal_basis=""))
    assert response.status_code == 400
    form = response.context["form"]
    one = pd.DataFrame([{"episode_id": "x", "child_id": "a" * 64, "municipality_code": "0180",
                         "sex": "F", "birth_year": "2012", "start_date": "2025-13-45",
                         "placement_type": "FH"}], dtype=object)
    expected = validate_table(RawTable("episodes", one, "f", [2])).problems
    by_col = dict(zip(expected["column"], expected["message_sv"]))
    label = load_dictionary().label("episodes", "start_date")
    assert form.errors["start_date"] == [
        by_col["start_date"].replace("kolumnen start_date", f"fältet «{label}»")]
    assert "Värde saknas" in form.errors["legal_basis"][0]
    html = response.content.decode()
    assert html.index('class="error-summary"') < html.index("<fieldset")
    assert 'href="#id_start_date"' in html and 'aria-describedby="id_start_date_error' in html
    assert not mine().exists()


def test_an_identity_number_typed_in_another_field_is_masked_not_stored(registrar):
    _lookup(registrar, synthetic_number(5))
    number = synthetic_number(6)
    response = registrar.post("/episod/ny/", _episode_post(daily_cost_sek=number))
    assert response.status_code == 400
    assert number not in response.content.decode()
    assert not mine().exists()


def test_the_same_form_sent_twice_registers_once(registrar):
    _lookup(registrar, synthetic_number(7))
    data = _episode_post()
    first = registrar.post("/episod/ny/", data)
    second = registrar.post("/episod/ny/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert mine().count() == 1


def test_overlapping_episodes_of_one_child_are_refused(registrar):
    _lookup(registrar, synthetic_number(8))
    assert registrar.post("/episod/ny/", _episode_post()).status_code == 302
    again = registrar.post("/episod/ny/", _episode_post(start_date="2024-01-01"))
    assert again.status_code == 400
    assert mine().count() == 1


def test_followup_and_ending_are_validated_with_their_episode(registrar):
    ep = make_episode("0180", start_date="2024-02-01")
    url = f"/episod/{ep.pk}/uppfoljning/"
    early = registrar.post(url, {"submission_id": uuid.uuid4().hex,
                                 "followup_date": "2023-01-01", "goal_attainment": "PARTLY"})
    assert early.status_code == 400
    assert "utanför episoden" in early.context["form"].errors["followup_date"][0]
    ok = registrar.post(url, {"submission_id": uuid.uuid4().hex, "followup_date": "2024-08-01",
                              "goal_attainment": "PARTLY", "theme_safety": "4"})
    assert ok.status_code == 302
    fu = Followup.objects.get(episode=ep)
    assert fu.followup_type == "FOLLOWUP" and fu.values["theme_safety"] == "4"
    end = registrar.post(f"/episod/{ep.pk}/avslut/", {
        "submission_id": uuid.uuid4().hex, "end_date": "2025-01-31", "end_reason": "PLANNED",
        "destination": "PARENTS", "aftercare": "ja", "child_heard": "YES",
        "goal_attainment": "FULLY", "theme_participation": "5"})
    assert end.status_code == 302, end.content.decode()[:3000]
    ep.refresh_from_db()
    assert ep.values["end_date"] == "2025-01-31" and ep.values["aftercare"] == "true"
    ending = Followup.objects.get(episode=ep, followup_type="ENDING")
    assert str(ending.followup_date) == "2025-01-31"
    missing_reason = registrar.post(f"/episod/{make_episode('0180').pk}/avslut/", {
        "submission_id": uuid.uuid4().hex, "end_date": "2025-01-31"})
    assert missing_reason.status_code == 400
    assert {e.action for e in AuditEvent.objects.all()} >= {"create_followup", "create_ending"}


def test_changing_an_episode_is_validated_and_audited(registrar):
    ep = make_episode("0180")
    url = f"/episod/{ep.pk}/andra/"
    page = registrar.get(url).content.decode()
    assert 'value="2024-02-01"' in page
    data = {"submission_id": uuid.uuid4().hex, "start_date": "2024-03-01",
            "legal_basis": "LVU2", "placement_type": "HVB"}
    assert registrar.post(url, data).status_code == 302
    ep.refresh_from_db()
    assert ep.values["legal_basis"] == "LVU2" and ep.values["start_date"] == "2024-03-01"
    assert AuditEvent.objects.filter(action="change_episode", object_id=str(ep.pk)).exists()


def test_pages_are_swedish_with_secure_headers(registrar):
    response = registrar.get("/")
    html = response.content.decode()
    assert '<html lang="sv">' in html
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "no-store"
    login = Client().get("/logga-in/")
    assert 'for="id_username"' in login.content.decode()


def test_session_and_cookie_settings():
    from django.conf import settings

    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Strict"
    assert settings.SESSION_COOKIE_AGE == 30 * 60 and settings.SESSION_SAVE_EVERY_REQUEST
    assert not settings.SESSION_COOKIE_SECURE   # tests run on localhost
    assert len(settings.AUTH_PASSWORD_VALIDATORS) == 4
    from evaluation.portal.settings import is_local_host

    assert is_local_host("127.0.0.1") and not is_local_host("webbkollen.example.se")


def test_failed_logins_are_throttled_by_axes():
    make_user("throttled", "registrar", "0180")
    client = Client()
    for _ in range(5):
        client.post("/logga-in/", {"username": "throttled", "password": "fel-lösenord"})
    locked = client.post("/logga-in/", {"username": "throttled",
                                         "password": "throttled-Långt-lösen-2024"})
    assert locked.status_code == 429
    assert "spärrad" in locked.content.decode()
    assert AuditEvent.objects.filter(action="login_failed").count() >= 5


def test_an_identity_number_typed_as_user_name_is_not_shown_again():
    number = synthetic_number(7)
    page = Client().post("/logga-in/", {"username": number, "password": "fel-lösenord"})
    text = page.content.decode()
    digits = re.sub(r"\D", "", number)
    assert page.status_code == 200
    assert number not in text and digits[-10:] not in re.sub(r"\D", "", text)
