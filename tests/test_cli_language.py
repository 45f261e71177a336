"""The command line in Swedish and English: --lang, EVALUATION_LANG or the locale."""

from __future__ import annotations

import argparse

import pytest

from evaluation.cli import _parsers, build_parser, cli_language, help_translations, main


def _help_texts(parser):
    for p in _parsers(parser):
        if p.description:
            yield p.description
        for action in p._actions:
            if action.help and action.help is not argparse.SUPPRESS:
                yield action.help
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    yield choice.help


def test_every_help_text_has_a_swedish_translation():
    words = help_translations()
    missing = [t for t in _help_texts(build_parser("en")) if t not in words]
    assert not missing, f"add these to reporting/catalogs/cli.yaml: {missing}"
    english = set(_help_texts(build_parser("en")))
    swedish = list(_help_texts(build_parser("sv")))
    assert not english & set(swedish), "some help stays English in Swedish mode"


@pytest.mark.parametrize("argv, env, expected", [
    (["--lang", "sv", "synth"], {}, "sv"),
    (["--lang=en"], {"LANG": "sv_SE.UTF-8"}, "en"),
    ([], {"LANG": "sv_SE.UTF-8"}, "sv"),
    ([], {"LANG": "en_GB.UTF-8"}, "en"),
    ([], {"EVALUATION_LANG": "sv", "LANG": "C"}, "sv"),
    ([], {"LC_ALL": "sv_FI.UTF-8", "LANG": "en_US"}, "sv"),
])
def test_language_comes_from_the_flag_then_the_environment(argv, env, expected, monkeypatch):
    for name in ("EVALUATION_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli_language(argv) == expected


def test_swedish_help_usage_and_errors(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("användning: evaluation") and "flaggor:" in out
    assert "skriv syntetiska data" in out
    with pytest.raises(SystemExit) as info:
        main(["report"])
    assert info.value.code == 2
    assert "fel: dessa argument krävs: notebook" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "saknas.csv"), "--out", str(tmp_path / "o")]) == 1
    assert "evaluation validate: fel:" in capsys.readouterr().err


def test_english_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    with pytest.raises(SystemExit):
        main(["--lang", "en", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: evaluation") and "write synthetic data" in out
