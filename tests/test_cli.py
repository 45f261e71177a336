"""The command line: help texts, one-line summaries, and clear errors without tracebacks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.cli import main

COMMANDS = ["synth", "validate", "pseudonymise", "keygen", "dictionary", "report"]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "evaluation.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_in_plain_words(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: evaluation " + command in out


def test_keygen_writes_a_private_key_and_refuses_to_overwrite(tmp_path):
    key = tmp_path / "k.key"
    first = run_cli("keygen", str(key))
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() not in first.stdout
    second = run_cli("keygen", str(key))
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert "error" in second.stderr


def test_synth_validate_and_pseudonymise_chain_with_one_line_summaries(tmp_path):
    out = tmp_path / "synth"
    r = run_cli("synth", "--children", "300", "--municipalities", "5", "--seed", "7",
                "--out", str(out), "--raw")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1
    files = [str(out / f"{t}.csv") for t in ("episodes", "placements", "followups", "referrals")]
    v = run_cli("validate", *files, "--out", str(tmp_path / "valid"))
    assert v.returncode == 0, v.stderr
    assert "quarantined" in v.stdout
    assert (tmp_path / "valid" / "quarantine.csv").exists()

    key = tmp_path / "secret" / "k.key"
    key.parent.mkdir()
    assert run_cli("keygen", str(key)).returncode == 0
    raw_files = sorted(str(p) for p in (out / "raw").glob("*.csv"))
    assert raw_files
    p = run_cli("pseudonymise", *raw_files, "--key-file", str(key), "--out", str(tmp_path / "ps"))
    assert p.returncode == 0, p.stderr
    text = "".join(f.read_text(encoding="utf-8") for f in (tmp_path / "ps").glob("*.csv"))
    assert "personnummer" not in text.splitlines()[0]
    assert key.read_text().strip() not in text


def test_pseudonymise_without_a_key_fails_clearly(tmp_path):
    f = tmp_path / "episodes.csv"
    f.write_text("episode_id,personnummer\n1,x\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "EVALUATION_KEY"}
    r = subprocess.run([sys.executable, "-m", "evaluation.cli", "pseudonymise", str(f),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env,
                       check=False)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "key" in r.stderr.lower()


def test_validate_of_a_missing_file_fails_without_traceback(tmp_path):
    r = run_cli("validate", str(tmp_path / "episodes.csv"), "--out", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "episodes.csv" in r.stderr


def test_report_with_an_unknown_parameter_fails_and_names_it(tmp_path):
    root = Path(__file__).resolve().parents[1]
    r = run_cli("report", str(root / "notebooks" / "01-overview.ipynb"), "--data",
                str(tmp_path), "-p", "municipalty", "0180", "--out", str(tmp_path / "r"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "municipalty" in r.stderr and "municipality" in r.stderr


def test_dictionary_command_writes_pages_and_template(tmp_path):
    r = run_cli("dictionary", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert {"dictionary.sv.md", "dictionary.en.md", "dictionary.html",
            "registration_template.xlsx"} <= names


def test_report_in_internal_mode_is_refused_without_the_internal_flag(tmp_path):
    root = Path(__file__).resolve().parents[1]
    r = run_cli("report", str(root / "notebooks" / "01-overview.ipynb"), "--data",
                str(tmp_path), "-p", "mode", "internal", "--out", str(tmp_path / "r"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "--internal" in r.stderr
    assert "kräver flaggan" in r.stderr and "needs the flag" in r.stderr  # Swedish and English
    assert not (tmp_path / "r").exists()  # nothing ran


def test_publication_is_the_default_and_the_internal_flag_sets_internal_mode(
        tmp_path, monkeypatch, capsys):
    from evaluation.reporting import run

    calls = []

    def fake_run_report(notebook, data, out, params, *, internal=False, **kwargs):
        calls.append((dict(params), internal))
        return Path(out) / "report.html"

    monkeypatch.setattr(run, "run_report", fake_run_report)
    nb = str(Path(__file__).resolve().parents[1] / "notebooks" / "01-overview.ipynb")
    assert main(["report", nb, "--data", str(tmp_path), "--out", str(tmp_path)]) == 0
    assert main(["report", nb, "--data", str(tmp_path), "--out", str(tmp_path),
                 "--internal"]) == 0
    assert calls == [({}, False), ({}, True)]


def test_check_mode_never_makes_internal_a_default():
    from evaluation.errors import ParameterError
    from evaluation.reporting.run import check_mode

    defaults = {"data_dir": "", "mode": "publication"}
    assert check_mode({}, defaults, internal=False) == {}
    assert check_mode({}, defaults, internal=True) == {"mode": "internal"}
    assert check_mode({"mode": "internal"}, defaults, internal=True) == {"mode": "internal"}
    with pytest.raises(ParameterError, match="--internal"):
        check_mode({"mode": "internal"}, defaults, internal=False)
    with pytest.raises(ParameterError, match="contradicts"):
        check_mode({"mode": "publication"}, defaults, internal=True)
    with pytest.raises(ParameterError, match="default"):
        check_mode({}, {"mode": "internal"}, internal=False)
    with pytest.raises(ParameterError, match="no mode parameter"):
        check_mode({}, {"data_dir": ""}, internal=True)


def test_version_is_printed(capsys):
    from evaluation import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"evaluation {__version__}"


def test_report_refuses_data_dir_as_a_parameter_and_an_out_that_is_a_file(tmp_path, capsys):
    nb = str(Path(__file__).resolve().parents[1] / "notebooks" / "01-overview.ipynb")
    assert main(["report", nb, "--data", str(tmp_path), "-p", "data_dir", "x",
                 "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "data_dir is given by --data" in err and "ges med --data" in err
    (tmp_path / "afile").write_text("x")
    assert main(["report", nb, "--data", str(tmp_path), "--out", str(tmp_path / "afile")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
