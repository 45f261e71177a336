"""Tests of :mod:`evaluation.data.pseudonymise`.

Every identity number here is SYNTHETIC: either drawn by ``synthetic_personnummer`` from a
seeded generator or built by ``make`` below from a few hand-picked dates and serials, with the
check digit computed in the test. None is taken from a real person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest

from evaluation.data import pseudonymise as ps
from evaluation.data.pseudonymise import (
    InvalidIdentityNumber,
    generate_key,
    load_key,
    luhn_check_digit,
    parse_personnummer,
    pseudonymise_id,
    pseudonymise_table,
    synthetic_personnummer,
)
from evaluation.errors import DataValidationError, ParameterError, PseudonymKeyError

KEY = bytes(range(32))  # test key, not secret
OTHER_KEY = bytes(range(1, 33))


def make(yymmdd: str, serial: str, century: str = "20", sep: str = "-") -> str:
    """Build a SYNTHETIC 12-digit number with a correct check digit."""
    return f"{century}{yymmdd}{sep}{serial}{luhn_check_digit(yymmdd + serial)}"


def wrong_check(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# Synthetic: a boy born 2015-06-15 (serial 123, 3rd serial digit 3 odd -> M).
BOY = make("150615", "123")
# Synthetic: a girl born 2012-11-03 (serial 468, 8 even -> F).
GIRL = make("121103", "468")


# --- Luhn --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nine, expected",
    [
        # 9*2=18 -> 1+8=9, 0, 0, 1, 0, 1, 1*2=2, 2, 3*2=6: sum 21 -> (10 - 1) % 10 = 9
        ("900101123", 9),
        # 2,2,2,2,2,2,2,2,2 (each 1*2 or 2*1): sum 18 -> 2
        ("121212121", 2),
        # five 5*2=10 -> 1 each = 5, four 5*1 = 20: sum 25 -> 5
        ("555555555", 5),
        # all zero: sum 0 -> 0
        ("000000000", 0),
        # last digit weight 2: 1*2 = 2 -> 8
        ("000000001", 8),
        # 5*2 = 10 -> 1 -> 9
        ("000000005", 9),
    ],
)
def test_luhn_check_digit_matches_hand_computed_examples(nine, expected):
    assert luhn_check_digit(nine) == expected


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "12345678a", 123456789])
def test_luhn_check_digit_refuses_anything_but_nine_digits(bad):
    with pytest.raises(ParameterError, match="nine digits"):
        luhn_check_digit(bad)


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        BOY,  # YYYYMMDD-NNNC form
        BOY.replace("-", ""),  # 12 digits
        BOY[2:],  # 10 digits with hyphen
        BOY[2:].replace("-", ""),  # 10 digits
        BOY[2:].replace("-", " "),  # space separator
        f"  {BOY}  ",  # surrounding whitespace
    ],
)
def test_all_forms_of_one_number_parse_to_the_same_normalised_number(form):
    pn = parse_personnummer(form, reference_year=2026)
    assert pn.normalised == BOY.replace("-", "")
    assert pn.birth_date == dt.date(2015, 6, 15)
    assert pn.birth_year == 2015
    assert pn.sex == "M"
    assert not pn.is_coordination


def test_sex_is_female_when_the_ninth_digit_is_even():
    assert parse_personnummer(GIRL).sex == "F"


@pytest.mark.parametrize(
    "yymmdd, sep, ref, year",
    [
        ("200301", "-", 2026, 2020),  # yy <= reference: this century
        ("260101", "-", 2026, 2026),  # the reference year itself
        ("300301", "-", 2026, 1930),  # yy > reference: last century
        ("200301", "+", 2026, 1920),  # '+' means 100 or older
        ("300301", "+", 2026, 1830),
        ("990301", "-", 2005, 1999),
    ],
)
def test_century_of_ten_digit_numbers_is_inferred_from_reference_year_and_plus(
    yymmdd, sep, ref, year
):
    number = yymmdd + sep + "246" + str(luhn_check_digit(yymmdd + "246"))  # synthetic
    pn = parse_personnummer(number, reference_year=ref)
    assert pn.birth_year == year
    assert pn.normalised == f"{year}{yymmdd[2:]}246{number[-1]}"


def test_ten_digit_century_defaults_to_the_current_year():
    yy = dt.date.today().year % 100
    number = f"{yy:02d}0101-2460"
    number = number[:-1] + str(luhn_check_digit(number[:6] + "246"))  # synthetic
    assert parse_personnummer(number).birth_year == dt.date.today().year


def test_coordination_number_has_day_plus_sixty_and_keeps_it_in_the_normalised_form():
    number = make("150675", "135")  # synthetic: day 75 = 15 + 60
    pn = parse_personnummer(number)
    assert pn.is_coordination
    assert pn.birth_date == dt.date(2015, 6, 15)
    assert pn.normalised == number.replace("-", "")
    assert pn.sex == "M"


@pytest.mark.parametrize(
    "number, rule, match",
    [
        (wrong_check(BOY), "check_digit", "check digit"),
        (wrong_check(BOY)[2:], "check_digit", "check digit"),
        (make("150230", "123"), "date", "2015-02-30 does not exist"),  # Feb 30
        (make("010229", "123"), "date", "does not exist"),  # 2001 is not a leap year
        (make("151301", "123"), "date", "does not exist"),  # month 13
        (make("150600", "123"), "date", "does not exist"),  # day 0
        (make("150491", "123"), "date", "does not exist"),  # coordination April 31
        ("abc", "format", "10 or 12 digits"),
        ("12345", "format", "10 or 12 digits"),
        (BOY + "1", "format", "10 or 12 digits"),
        ("2015-06-15", "format", "10 or 12 digits"),
        ("", "missing", "missing"),
        (None, "missing", "missing"),
        (float("nan"), "missing", "missing"),
    ],
)
def test_invalid_numbers_raise_with_a_rule_and_a_message(number, rule, match):
    with pytest.raises(InvalidIdentityNumber, match=match) as info:
        parse_personnummer(number)
    assert info.value.rule == rule
    assert info.value.message_sv and info.value.message_en


def test_leap_day_is_a_valid_date():
    assert parse_personnummer(make("000229", "123")).birth_date == dt.date(2000, 2, 29)


def test_error_messages_never_contain_the_clear_number():
    bad = wrong_check(BOY)
    with pytest.raises(InvalidIdentityNumber, match=r"20150615-\*\*\*\*") as info:
        parse_personnummer(bad)
    err = info.value
    for text in (str(err), err.message_sv, err.message_en, err.masked, repr(err)):
        assert bad not in text and bad.replace("-", "") not in text and bad[-4:] not in text


def test_person_number_repr_hides_the_serial():
    assert BOY[-4:] not in repr(parse_personnummer(BOY))


# --- synthetic numbers -------------------------------------------------------------------


def test_synthetic_numbers_are_valid_with_the_right_date_and_sex():
    rng = np.random.default_rng(2024)
    for k in range(300):
        birth = dt.date(2000, 1, 1) + dt.timedelta(days=int(rng.integers(0, 9000)))
        sex = "M" if k % 2 else "F"
        number = synthetic_personnummer(birth, sex, rng)
        assert re.fullmatch(r"\d{8}-\d{4}", number)
        pn = parse_personnummer(number)
        assert pn.birth_date == birth and pn.sex == sex and not pn.is_coordination


def test_synthetic_numbers_are_reproducible_with_a_seed():
    a = [synthetic_personnummer(dt.date(2010, 5, 5), "F", np.random.default_rng(7)) for _ in "ab"]
    assert a[0] == a[1]


@pytest.mark.parametrize(
    "birth",
    [
        pd.Timestamp("2011-02-03"),
        np.datetime64("2011-02-03"),
        "2011-02-03",
        dt.datetime(2011, 2, 3, 12),
    ],
)
def test_synthetic_numbers_accept_common_date_types(birth):
    number = synthetic_personnummer(birth, "M", np.random.default_rng(1))
    assert number.startswith("20110203-")


@pytest.mark.parametrize(
    "sex, birth, match",
    [("X", dt.date(2010, 1, 1), "sex must be"), ("M", "not a date", "birth_date must be")],
)
def test_synthetic_numbers_refuse_bad_arguments(sex, birth, match):
    with pytest.raises(ParameterError, match=match):
        synthetic_personnummer(birth, sex, np.random.default_rng(1))


# --- keys --------------------------------------------------------------------------------


def test_generated_key_is_64_hex_characters_with_mode_600_and_loads(tmp_path):
    path = generate_key(tmp_path / "k.key")
    text = path.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", text)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == bytes.fromhex(text)


def test_generated_keys_differ(tmp_path):
    assert generate_key(tmp_path / "a").read_text() != generate_key(tmp_path / "b").read_text()


def test_generate_key_refuses_to_overwrite(tmp_path):
    path = generate_key(tmp_path / "k.key")
    before = path.read_text()
    with pytest.raises(PseudonymKeyError, match="already exists"):
        generate_key(path)
    assert path.read_text() == before


def test_generate_key_in_an_unwritable_place_fails_clearly(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(PseudonymKeyError, match="Cannot create"):
        generate_key(blocker / "k.key")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_key_file_open_to_group_or_others_is_refused(tmp_path, mode):
    path = generate_key(tmp_path / "k.key")
    path.chmod(mode)
    with pytest.raises(PseudonymKeyError, match="chmod 600"):
        load_key(path)


def _write(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    "content, match",
    [
        ("ab" * 16, "too short: 16 bytes"),
        ("ab" * 31, "too short: 31 bytes"),
        ("zz" * 32, "not hexadecimal"),
        ("", "empty"),
    ],
)
def test_bad_key_files_are_refused_with_a_fix(tmp_path, content, match):
    path = _write(tmp_path / "k.key", content)
    with pytest.raises(PseudonymKeyError, match=match) as info:
        load_key(path)
    assert "evaluation keygen" in str(info.value)
    if content:
        assert content not in str(info.value)


def test_missing_key_file_is_refused(tmp_path):
    with pytest.raises(PseudonymKeyError, match="does not exist.*evaluation keygen"):
        load_key(tmp_path / "absent.key")


def test_key_is_read_from_the_environment_when_no_file_is_given(monkeypatch):
    monkeypatch.setenv("EVALUATION_KEY", KEY.hex())
    assert load_key() == KEY
    monkeypatch.setenv("MY_KEY", OTHER_KEY.hex().upper())
    assert load_key(env_var="MY_KEY") == OTHER_KEY


def test_no_key_at_all_is_refused_with_a_fix(monkeypatch):
    monkeypatch.delenv("EVALUATION_KEY", raising=False)
    with pytest.raises(PseudonymKeyError, match="No pseudonymisation key.*EVALUATION_KEY"):
        load_key()


@pytest.mark.parametrize("value, match", [("ab" * 8, "too short"), ("xy" * 32, "not hexadecimal")])
def test_bad_environment_keys_are_refused(monkeypatch, value, match):
    monkeypatch.setenv("EVALUATION_KEY", value)
    with pytest.raises(PseudonymKeyError, match=match) as info:
        load_key()
    assert value not in str(info.value)


# --- pseudonyms --------------------------------------------------------------------------


def test_pseudonym_is_hmac_sha256_of_the_normalised_number():
    expected = hmac.new(KEY, BOY.replace("-", "").encode(), hashlib.sha256).hexdigest()
    assert pseudonymise_id(BOY, KEY) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_all_forms_of_one_number_give_the_same_pseudonym():
    forms = [BOY, BOY.replace("-", ""), BOY[2:], BOY[2:].replace("-", "")]
    assert len({pseudonymise_id(f, KEY) for f in forms}) == 1


def test_different_keys_give_unlinkable_pseudonyms():
    rng = np.random.default_rng(3)
    numbers = [synthetic_personnummer(dt.date(2010, 1, 1), "F", rng) for _ in range(50)]
    a = {pseudonymise_id(n, KEY) for n in numbers}
    b = {pseudonymise_id(n, OTHER_KEY) for n in numbers}
    assert not a & b


def test_pseudonym_is_not_a_plain_hash_of_the_number():
    plain = hashlib.sha256(BOY.replace("-", "").encode()).hexdigest()
    assert pseudonymise_id(BOY, KEY) != plain


@pytest.mark.parametrize("key, match", [(b"short", "too short"), ("ab" * 32, "must be bytes")])
def test_pseudonymise_id_refuses_weak_keys(key, match):
    with pytest.raises(PseudonymKeyError, match=match):
        pseudonymise_id(BOY, key)


def test_pseudonymise_id_of_an_invalid_number_raises():
    with pytest.raises(InvalidIdentityNumber, match="check digit"):
        pseudonymise_id(wrong_check(BOY), KEY)


# --- tables ------------------------------------------------------------------------------


@pytest.fixture
def raw():
    rng = np.random.default_rng(11)
    good = [
        synthetic_personnummer(
            dt.date(2008, 3, 1) + dt.timedelta(days=37 * i), "M" if i % 2 else "F", rng
        )
        for i in range(6)
    ]
    bad_check = wrong_check(good[0])
    feb30 = make("100230", "123")  # synthetic, impossible date
    pnr = [
        good[0],
        good[1][2:],
        bad_check,
        good[2].replace("-", ""),
        "garbage-123",
        good[3],
        feb30,
        None,
        good[4],
        good[5][2:].replace("-", ""),
    ]
    df = pd.DataFrame(
        {
            "episode_id": [f"E{i}" for i in range(len(pnr))],
            "personnummer": pnr,
            "municipality_code": ["0180"] * len(pnr),
            "sex": ["X"] * len(pnr),  # wrong on purpose: must be overwritten
        }
    )
    return df, good, [bad_check, feb30]


def test_accepted_plus_quarantine_equals_rows_read(raw):
    df, _, _ = raw
    accepted, quarantine = pseudonymise_table(df, "episodes", KEY, source="ep.csv")
    assert len(accepted) + len(quarantine) == len(df)
    assert len(quarantine) == 4
    assert list(quarantine.columns) == ps.QUARANTINE_COLUMNS
    assert list(quarantine.columns) == [
        "source_file",
        "row",
        "table",
        "column",
        "value",
        "rule",
        "message_sv",
        "message_en",
    ]
    assert quarantine["rule"].tolist() == ["check_digit", "format", "date", "missing"]
    assert quarantine["row"].tolist() == [4, 6, 8, 9]  # position + 2
    assert set(quarantine["source_file"]) == {"ep.csv"}
    assert set(quarantine["table"]) == {"episodes"}
    assert set(quarantine["column"]) == {"personnummer"}


def test_quarantine_never_contains_the_clear_number(raw):
    df, _, bad = raw
    _, quarantine = pseudonymise_table(df, "episodes", KEY)
    text = quarantine.to_csv(index=False)
    for number in bad + ["garbage-123"]:
        assert number not in text
        assert number.replace("-", "") not in text
        assert number[-4:] not in text
    assert quarantine["value"].tolist() == [
        bad[0][:8] + "-****",
        "<ogiltigt personnummer>",
        bad[1][:8] + "-****",
        "<ogiltigt personnummer>",
    ]


def test_accepted_rows_get_pseudonym_sex_and_birth_year_and_lose_the_number(raw):
    df, good, _ = raw
    accepted, _ = pseudonymise_table(df, "episodes", KEY)
    assert "personnummer" not in accepted.columns
    assert accepted.columns[0] == "child_id"
    assert accepted["episode_id"].tolist() == ["E0", "E1", "E3", "E5", "E8", "E9"]
    expected = [pseudonymise_id(n, KEY) for n in good]
    assert accepted["child_id"].tolist() == expected
    assert accepted["sex"].tolist() == [parse_personnummer(n).sex for n in good]
    assert accepted["birth_year"].tolist() == [int(n[:4]) for n in good]
    assert accepted["birth_year"].dtype == np.int64
    text = accepted.to_csv(index=False)
    for n in good:
        assert n not in text and n.replace("-", "") not in text and n[2:] not in text


def test_input_table_is_not_modified(raw):
    df, _, _ = raw
    before = df.copy()
    pseudonymise_table(df, "episodes", KEY)
    pd.testing.assert_frame_equal(df, before)


def test_every_direct_identifier_of_the_dictionary_is_dropped(raw, monkeypatch):
    df, _, _ = raw
    df = df.assign(name="Synthetic Name", phone="000")

    class FakeDictionary:
        def direct_identifiers(self, table):
            return ["personnummer", "name", "phone"]

    monkeypatch.setattr(ps, "load_dictionary", lambda: FakeDictionary())
    accepted, _ = pseudonymise_table(df, "episodes", KEY)
    assert not {"personnummer", "name", "phone"} & set(accepted.columns)
    assert "municipality_code" in accepted.columns


def test_a_differently_named_id_column_is_dropped_too(raw):
    df, _, _ = raw
    df = df.rename(columns={"personnummer": "pnr"})
    accepted, quarantine = pseudonymise_table(df, "referrals", KEY, id_col="pnr")
    assert "pnr" not in accepted.columns
    assert set(quarantine["column"]) == {"pnr"}


def test_row_numbers_are_taken_from_the_caller_when_given(raw):
    df, _, _ = raw
    rows = list(range(101, 101 + len(df)))
    _, quarantine = pseudonymise_table(df, "episodes", KEY, row_numbers=rows)
    assert quarantine["row"].tolist() == [103, 105, 107, 108]


def test_row_numbers_of_the_wrong_length_are_refused(raw):
    df, _, _ = raw
    with pytest.raises(ParameterError, match="row_numbers has 2 entries but the data have 10"):
        pseudonymise_table(df, "episodes", KEY, row_numbers=[1, 2])


def test_missing_id_column_names_file_column_and_available_columns(raw):
    df, _, _ = raw
    with pytest.raises(
        DataValidationError,
        match=r"ep\.csv.*'personnummer' is missing.*episode_id, municipality_code",
    ):
        pseudonymise_table(df.drop(columns="personnummer"), "episodes", KEY, source="ep.csv")


def test_same_key_links_one_child_across_tables(raw):
    df, good, _ = raw
    ref = pd.DataFrame({"referral_id": ["R1"], "personnummer": [good[0][2:].replace("-", "")]})
    ep, _ = pseudonymise_table(df, "episodes", KEY)
    rf, _ = pseudonymise_table(ref, "referrals", KEY)
    assert rf["child_id"].iloc[0] == ep["child_id"].iloc[0]
    rf_other, _ = pseudonymise_table(ref, "referrals", OTHER_KEY)
    assert rf_other["child_id"].iloc[0] != ep["child_id"].iloc[0]


def test_all_invalid_and_empty_tables_give_empty_frames_with_the_right_columns():
    df = pd.DataFrame({"episode_id": ["E1"], "personnummer": ["nonsense"]})
    accepted, quarantine = pseudonymise_table(df, "episodes", KEY)
    assert len(accepted) == 0 and {"child_id", "sex", "birth_year"} <= set(accepted.columns)
    accepted, quarantine = pseudonymise_table(df.iloc[:0], "episodes", KEY)
    assert len(accepted) == 0 and len(quarantine) == 0
    assert list(quarantine.columns) == ps.QUARANTINE_COLUMNS


def test_the_key_never_appears_in_outputs(raw):
    df, _, _ = raw
    accepted, quarantine = pseudonymise_table(df, "episodes", KEY)
    text = accepted.to_csv() + quarantine.to_csv()
    assert KEY.hex() not in text
