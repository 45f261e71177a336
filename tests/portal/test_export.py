"""``evaluation portal`` commands, and the export read by the toolkit's reports."""

from __future__ import annotations

import io
import sys

import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.data.load import load_tables
from evaluation.portal.demo import DEMO_MUNICIPALITIES, add_demo_cases
from evaluation.portal.models import Episode
from tests.helpers import ROOT
from tests.portal.conftest import BACKEND, DB_PATH, make_episode

pytestmark = pytest.mark.usefixtures("db")


def test_export_writes_what_validate_writes_and_a_report_runs_on_it(tmp_path, capsys):
    counts = add_demo_cases(n_children=150, seed=3)
    ended = make_episode("0180", end_date="2024-10-01", end_reason="BREAKDOWN_CHILD")
    out = tmp_path / "export"
    assert main(["portal", "export", "--db", str(DB_PATH), "--out", str(out)]) == 0
    assert "accepted" in capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == ["episodes.csv", "followups.csv", "placements.csv", "problems.csv",
                     "quarantine.csv", "referrals.csv"]
    tables = load_tables(out)
    from evaluation.portal.models import Followup

    assert counts["episodes"] > 100
    assert len(tables["episodes"]) == Episode.objects.count()
    assert len(tables["followups"]) == Followup.objects.count()
    assert len(pd.read_csv(out / "quarantine.csv")) == 0
    row = tables["episodes"].set_index("episode_id").loc[ended.pk.hex]
    assert not bool(row["planned_ending"])   # derived by the validator, never entered
    assert {*DEMO_MUNICIPALITIES} <= set(tables["episodes"]["municipality_code"])
    # The same bytes as `evaluation validate` on the export itself.
    again = tmp_path / "again"
    assert main(["validate", *(str(out / f"{t}.csv") for t in
                               ("episodes", "placements", "followups", "referrals")),
                 "--out", str(again)]) == 0
    for t in ("episodes", "placements", "followups", "referrals"):
        assert (again / f"{t}.csv").read_bytes() == (out / f"{t}.csv").read_bytes()
    from evaluation.reporting.run import run_report

    html = run_report(ROOT / "notebooks" / "01-overview.ipynb", out, tmp_path / "report",
                      {"municipality": "0180"})
    assert html.is_file() and "0180" in html.read_text("utf-8")


def test_adduser_reads_the_password_from_stdin_and_applies_the_validators(monkeypatch,
                                                                          capsys):
    from django.contrib.auth import authenticate, get_user_model

    monkeypatch.setattr(sys, "stdin", io.StringIO("ett-bra-långt-lösenord-77\n"))
    assert main(["portal", "adduser", "kim", "--municipality", "1480", "--role", "analyst",
                 "--db", str(DB_PATH)]) == 0
    user = get_user_model().objects.get(username="kim")
    assert user.portal_profile.role == "analyst"
    assert user.check_password("ett-bra-långt-lösenord-77")
    monkeypatch.setattr(sys, "stdin", io.StringIO("12345\n"))
    assert main(["portal", "adduser", "lo", "--municipality", "1480", "--role", "analyst",
                 "--db", str(DB_PATH)]) == 1
    err = capsys.readouterr().err
    assert "Lösenordet godtas inte" in err and "The password is refused" in err
    assert main(["portal", "adduser", "lo", "--municipality", "148", "--role", "analyst",
                 "--db", str(DB_PATH)]) == 1
    assert "fyrsiffrig" in capsys.readouterr().err
    assert authenticate is not None


def test_serve_refuses_to_start_without_a_key(monkeypatch, capsys):
    monkeypatch.delenv("EVALUATION_KEY", raising=False)
    assert main(["portal", "serve", "--db", str(DB_PATH)]) == 1
    err = capsys.readouterr().err
    assert "startar inte utan pseudonymiseringsnyckel" in err and "does not start" in err


def test_init_demo_adds_cases_only_to_an_empty_database(capsys):
    Episode.objects.all().delete()   # rolled back after the test
    assert main(["portal", "init", "--db", str(DB_PATH), "--demo"]) == 0
    n = Episode.objects.count()
    assert n > 0 and set(Episode.objects.values_list("municipality_code", flat=True)) == {
        *DEMO_MUNICIPALITIES}
    assert main(["portal", "init", "--db", str(DB_PATH), "--demo"]) == 0
    assert "not added" in capsys.readouterr().out and Episode.objects.count() == n


def test_commands_on_a_missing_database_say_how_to_create_it(tmp_path, capsys):
    if BACKEND != "sqlite":
        pytest.skip("SQLite only")
    assert main(["portal", "export", "--db", str(tmp_path / "none.sqlite3"),
                 "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "evaluation portal init" in err and "finns inte" in err
