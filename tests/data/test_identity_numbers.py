"""Identity numbers never pass validation and are never shown (issue 10, "Identity numbers").

Every identity number here is SYNTHETIC: drawn at test time by
:func:`evaluation.data.pseudonymise.synthetic_personnummer` from a seeded generator (serial
digits random, check digit computed), or derived from such a number in a documented way
(another form of the same number, a samordningsnummer by adding 60 to the day and recomputing the
check digit, a mistyped one by changing the check digit). None is written out by hand.

The corpus follows tests/data/test_malformed_corpus.py: one row per case with the file content,
then either the fatal error expected or the accepted/quarantined counts of the table and the
rule. For every case, no output file and no message holds anything an identity-number detector
or the masking function would still find.
"""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.data.pseudonymise import (
    generate_key,
    load_key,
    luhn_check_digit,
    parse_personnummer,
    pseudonymise_files,
    pseudonymise_id,
    synthetic_personnummer,
)
from evaluation.data.safe_text import (
    find_identity_numbers,
    is_identity_header,
    looks_like_identity_number,
    mask_identity_numbers,
    normalise_digits,
)
from evaluation.data.validate import validate_files
from evaluation.errors import DataValidationError, PseudonymKeyError
from tests.data.test_malformed_corpus import baseline, set_cell, write_all, write_csv

RNG_SEED = 20240610


def synthetic(n: int, seed: int = RNG_SEED) -> list[str]:
    """``n`` synthetic 12-digit numbers ``YYYYMMDD-NNNC`` of children born 2006-2018."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        day = pd.Timestamp("2006-01-01") + pd.Timedelta(days=int(rng.integers(0, 13 * 365)))
        out.append(synthetic_personnummer(day, "M" if rng.integers(2) else "F", rng))
    return out


PNR = synthetic(12)


def ten_digits(p: str) -> str:
    """The 10-digit form ``YYMMDD-NNNC`` of a 12-digit synthetic number."""
    return p[2:]


def compact(p: str) -> str:
    return p.replace("-", "")


def coordination(p: str) -> str:
    """The samordningsnummer form: day + 60, check digit recomputed."""
    yymmdd = f"{p[2:6]}{int(p[6:8]) + 60:02d}"
    serial = p[9:12]
    return f"{p[:2]}{yymmdd}-{serial}{luhn_check_digit(yymmdd + serial)}"


def mistyped(p: str) -> str:
    """The same number with a wrong check digit (shaped like one, not valid)."""
    return p[:-1] + str((int(p[-1]) + 1) % 10)


def full_width(p: str) -> str:
    return "".join(chr(ord(c) - ord("0") + 0xFF10) if c.isdigit() else "\uff0d" for c in p)


def assert_no_identity_number(text: str) -> None:
    """Nothing in ``text`` that the detector or the masking function would still find."""
    assert find_identity_numbers(text) == []
    assert mask_identity_numbers(text) == normalise_digits(text)
    for p in PNR:
        for form in (p, compact(p), ten_digits(p), compact(ten_digits(p)), full_width(p)):
            assert form not in text


# --------------------------------------------------------------------------- corpus


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[Path]]
    error: str | None = None
    table: str = "episodes"
    accepted: int | None = None
    quarantined: int | None = None
    rule: str | None = None


def episodes_with(fn) -> Callable[[Path], list[Path]]:
    def build(tmp: Path) -> list[Path]:
        data = copy.deepcopy(baseline())
        fn(data)
        return write_all(tmp, data)

    return build


def column(name: str, values: Callable[[int], str], drop_derived: bool = False):
    def fn(data):
        for i, r in enumerate(data["episodes"]):
            if drop_derived:
                for c in ("child_id", "sex", "birth_year"):
                    r.pop(c)
            r[name] = values(i)

    return fn


def every_child_id(form: Callable[[str], str]):
    return column("child_id", lambda i: form(PNR[i]))


CASES = [
    # --- 1. a file that holds identity numbers is refused, never printing them
    Case("raw_extract_personnummer_column",
         episodes_with(column("personnummer", lambda i: PNR[i], drop_derived=True)),
         error=r"column personnummer, row 2, 3, 4, 5; rule identity_number.*Run `evaluation "
               r"pseudonymise`"),
    Case("registration_template_label_as_header",
         episodes_with(column("Personnummer/samordningsnummer", lambda i: PNR[i])),
         error=r"column personnummer.*rule identity_number"),
    Case("pnr_column_not_in_the_dictionary",
         episodes_with(column("pnr", lambda i: PNR[i])), error=r"column pnr; rule identity_number"),
    Case("samordningsnummer_column",
         episodes_with(column("Samordningsnummer", lambda i: coordination(PNR[i]))),
         error=r"column samordningsnummer; rule identity_number"),
    Case("identity_numbers_typed_as_child_id", episodes_with(every_child_id(lambda p: p)),
         error=r"column child_id.*4 filled cells.*evaluation pseudonymise"),
    Case("ten_digits_without_separator_as_child_id",
         episodes_with(every_child_id(lambda p: compact(ten_digits(p)))),
         error=r"column child_id.*rule identity_number"),
    Case("ten_digits_with_plus_as_child_id",
         episodes_with(every_child_id(lambda p: ten_digits(p).replace("-", "+"))),
         error=r"column child_id.*rule identity_number"),
    Case("twelve_digits_without_separator_as_child_id",
         episodes_with(every_child_id(compact)), error=r"column child_id.*rule identity_number"),
    Case("samordningsnummer_as_child_id", episodes_with(every_child_id(coordination)),
         error=r"column child_id.*rule identity_number"),
    Case("full_width_identity_numbers_as_child_id", episodes_with(every_child_id(full_width)),
         error=r"column child_id.*rule identity_number"),
    # An empty personnummer column (the registration template, filled with pseudonyms) is ignored.
    Case("empty_personnummer_column_is_ignored",
         episodes_with(column("personnummer", lambda i: "")), accepted=4, quarantined=0),
    # --- stray identity numbers quarantine their row, masked
    Case("one_identity_number_as_episode_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "episode_id", PNR[5])),
         accepted=3, quarantined=1, rule="identity_number"),
    Case("one_identity_number_as_child_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "child_id", PNR[6])),
         accepted=3, quarantined=1, rule="identity_number"),
    Case("one_mistyped_identity_number_as_child_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "child_id", mistyped(PNR[7]))),
         accepted=3, quarantined=1, rule="identity_number"),
    Case("one_full_width_identity_number_as_episode_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "episode_id", full_width(PNR[8]))),
         accepted=3, quarantined=1, rule="identity_number"),
    Case("identity_number_in_a_coded_column",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "placement_type", PNR[9])),
         accepted=3, quarantined=1, rule="identity_number"),
    Case("identity_number_as_referral_id",
         episodes_with(lambda d: set_cell(d, "referrals", "R1", "referral_id", PNR[10])),
         table="referrals", rule="identity_number"),
    # --- 2. required columns are enforced when present but empty
    Case("empty_child_id", episodes_with(lambda d: set_cell(d, "episodes", "E4", "child_id", "")),
         accepted=3, quarantined=1, rule="required"),
    Case("empty_sex", episodes_with(lambda d: set_cell(d, "episodes", "E4", "sex", "")),
         accepted=3, quarantined=1, rule="required"),
    Case("empty_birth_year",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "birth_year", " ")),
         accepted=3, quarantined=1, rule="required"),
    # --- 3. ids that a spreadsheet would run as a formula are refused
    Case("formula_as_episode_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "episode_id", "=cmd|' /C calc'!A0")),
         accepted=3, quarantined=1, rule="id_format"),
    Case("plus_formula_as_child_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "child_id", "+SUM(1,2)")),
         accepted=3, quarantined=1, rule="id_format"),
    Case("at_formula_as_child_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "child_id", "@SUM(1,2)")),
         accepted=3, quarantined=1, rule="id_format"),
    Case("minus_as_episode_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "episode_id", "-2+3")),
         accepted=3, quarantined=1, rule="id_format"),
    Case("quote_prefixed_episode_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "episode_id", "'=1+1")),
         accepted=3, quarantined=1, rule="id_format"),
    Case("control_character_in_episode_id",
         episodes_with(lambda d: set_cell(d, "episodes", "E4", "episode_id", "E\x074")),
         accepted=3, quarantined=1, rule="id_format"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_identity_numbers_are_refused_or_quarantined_and_never_shown(case: Case, tmp_path: Path):
    inp = tmp_path / "in"
    inp.mkdir()
    paths = case.build(inp)
    out = tmp_path / "out"
    if case.error is not None:
        with pytest.raises(DataValidationError, match=case.error) as err:
            validate_files(paths, out)
        assert_no_identity_number(str(err.value))
        assert "Kör `evaluation pseudonymise`" in str(err.value)  # Swedish too
        assert not (out / "episodes.csv").exists()
        return
    summary = validate_files(paths, out)
    for t, res in summary.results.items():
        assert len(res.accepted) + len(res.quarantine) == res.n_read, t
        assert "personnummer" not in res.accepted.columns
    res = summary.results[case.table]
    if case.accepted is not None:
        assert res.n_accepted == case.accepted, res.quarantine.to_string()
    if case.quarantined is not None:
        assert res.n_quarantined == case.quarantined, res.quarantine.to_string()
    if case.rule is not None:
        first = res.quarantine.loc[res.quarantine["rule"] == case.rule]
        assert len(first) == 1, res.quarantine.to_string()
        assert first["message_sv"].iloc[0] and first["message_en"].iloc[0]
    for f in out.glob("*.csv"):
        assert_no_identity_number(f.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    "form",
    [
        lambda p: p,
        compact,
        ten_digits,
        lambda p: compact(ten_digits(p)),
        lambda p: ten_digits(p).replace("-", "+"),
        lambda p: p.replace("-", " "),
        coordination,
        mistyped,
        full_width,
    ],
    ids=["12", "12_compact", "10", "10_compact", "10_plus", "space", "samordning", "mistyped",
         "full_width"],
)
def test_the_masking_function_hides_every_form_of_an_identity_number(form):
    for p in PNR:
        text = f"value '{form(p)}' in column x"
        masked = mask_identity_numbers(text)
        assert masked.endswith("-****' in column x"), masked
        assert_no_identity_number(masked)


def test_masking_keeps_ordinary_values_and_pseudonyms():
    for text in ("2024-03-01", "20240301", "0180", "E000123", "1500.5", "R0000001",
                 pseudonymise_id(PNR[0], bytes(range(32)))):
        assert mask_identity_numbers(text) == text
    assert not looks_like_identity_number(pseudonymise_id(PNR[1], bytes(range(32))))


def test_detection_needs_a_valid_number_but_masking_does_not():
    assert find_identity_numbers(PNR[0]) and not find_identity_numbers(mistyped(PNR[0]))
    assert looks_like_identity_number(mistyped(PNR[0]))
    assert mask_identity_numbers(mistyped(PNR[0])).endswith("-****")


@pytest.mark.parametrize("header", ["Personnummer", "PNR", "pers.nr", "Samordningsnummer",
                                    "personal identity number", "Personnummer/samordningsnummer"])
def test_identity_headers_are_recognised(header):
    assert is_identity_header(header)


@pytest.mark.parametrize("header", ["child_id", "episode_id", "Barn-id", "sex", "kommunkod"])
def test_other_headers_are_not_identity_headers(header):
    assert not is_identity_header(header)


def headerless_referrals(tmp: Path) -> Path:
    """A referrals export whose header row is missing: the first data row becomes the header."""
    p = tmp / "referrals.csv"
    p.write_text("".join(f"R{i},{PNR[i]},0180,2023-01-0{i + 1},x\n" for i in range(3)),
                 encoding="utf-8")
    return p


def test_a_headerless_file_does_not_show_its_identity_numbers_in_the_error(tmp_path, capsys):
    p = headerless_referrals(tmp_path)
    with pytest.raises(DataValidationError, match="Columns found") as err:
        validate_files([p], tmp_path / "out")
    assert_no_identity_number(str(err.value))
    with pytest.raises(DataValidationError, match="Columns found") as err:
        pseudonymise_files([p], bytes(range(32)), tmp_path / "ps")
    assert_no_identity_number(str(err.value))
    assert main(["validate", str(p), "--out", str(tmp_path / "o2")]) == 1
    captured = capsys.readouterr()
    assert "Columns found" in captured.err
    assert_no_identity_number(captured.out + captured.err)


# --------------------------------------------------------------------------- Unicode digits


def test_full_width_identity_numbers_are_normalised_before_parsing():
    for p in PNR:
        assert parse_personnummer(full_width(p)).normalised == compact(p)
        key = bytes(range(32))
        assert pseudonymise_id(full_width(p), key) == pseudonymise_id(p, key)


def test_pseudonymising_full_width_numbers_gives_no_traceback(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    rows = []
    for i, r in enumerate(baseline()["episodes"]):
        r = {k: v for k, v in r.items() if k not in ("child_id", "sex", "birth_year")}
        r["personnummer"] = full_width(PNR[i]) if i % 2 else PNR[i]
        rows.append(r)
    f = write_csv(inp / "episodes.csv", rows)
    line = pseudonymise_files([f], bytes(range(32)), tmp_path / "ps")
    assert "accepted 4, quarantined 0" in line
    text = (tmp_path / "ps" / "episodes.csv").read_text(encoding="utf-8")
    assert_no_identity_number(text)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "hex_key, why",
    [
        ("00" * 32, "distinct"),
        ("ff" * 40, "distinct"),
        ("ab" * 32, "distinct"),
        ("0123456789abcdef" * 4, "distinct"),
        (bytes(range(32)).hex()[:32] + "77" * 16, "in a row"),
    ],
    ids=["all_zero", "all_ff_long", "one_pair", "short_cycle", "long_run"],
)
def test_keys_of_obviously_low_entropy_are_refused(hex_key, why, monkeypatch, tmp_path):
    monkeypatch.setenv("EVALUATION_KEY", hex_key)
    with pytest.raises(PseudonymKeyError, match=f"{why}.*evaluation keygen"):
        load_key()
    f = tmp_path / "k.key"
    f.write_text(hex_key)
    f.chmod(0o600)
    with pytest.raises(PseudonymKeyError, match="not random"):
        load_key(f)
    with pytest.raises(PseudonymKeyError, match="not random"):
        pseudonymise_id(PNR[0], bytes.fromhex(hex_key))


def test_generated_keys_pass_the_entropy_check(tmp_path):
    for i in range(20):
        assert len(load_key(generate_key(tmp_path / f"k{i}.key"))) == 32


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_keygen_creates_a_missing_folder_private(tmp_path, capsys):
    key = tmp_path / "secrets" / "deeper" / "evaluation.key"
    assert main(["keygen", str(key)]) == 0
    assert "created the folder" in capsys.readouterr().out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for d in (key.parent, key.parent.parent):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert len(load_key(key)) == 32
