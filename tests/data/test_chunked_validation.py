"""Validating a file in chunks gives what validating it in one piece gives (issue 10).

A large file is read and validated ``chunk_rows`` rows at a time (bounded memory); the outputs
(``<table>.csv``, ``quarantine.csv``, ``problems.csv``) and counts must not depend on it. The
extract here has faults that need more than one chunk to judge: a primary key repeated in a
later chunk, an overlapping episode of a child in another chunk, placements whose episode is in
another chunk, identity numbers counted across chunks. Identity numbers are SYNTHETIC
(``synthetic_personnummer`` from a seeded generator), made at run time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.io import open_tables, read_table
from evaluation.data.pseudonymise import synthetic_personnummer
from evaluation.data.validate import validate_files
from evaluation.errors import DataValidationError

OUTPUTS = ("episodes.csv", "placements.csv", "followups.csv", "referrals.csv",
           "quarantine.csv", "problems.csv")


def _pnr(seed: int) -> str:
    return synthetic_personnummer("2011-04-09", "M", np.random.default_rng(seed))


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extract")
    synth.write(synth.generate(n_children=40, n_municipalities=4, seed=5), folder)
    path = folder / "episodes.csv"
    ep = pd.read_csv(path, dtype=str, keep_default_na=False)
    ep.loc[3, "start_date"] = "2024-13-01"                 # type_date
    ep.loc[5, "municipality_code"] = "180"                 # repaired to 0180, accepted
    ep.loc[7, "sex"] = "X"                                 # code
    ep.loc[11, "provider"] = _pnr(1)                       # a stray identity number
    ep.loc[len(ep) - 2, "episode_id"] = ep.loc[1, "episode_id"]   # key seen chunks earlier
    overlap = ep.loc[[2]].assign(episode_id="E-overlap")    # same child and start, last chunk
    ep = pd.concat([ep, overlap], ignore_index=True)
    ep["note"] = ""                                         # an ignored column
    text = ep.to_csv(index=False, lineterminator="\n")
    width = len(ep.columns)
    text += "x,y\n"                                         # field_count
    text += "," * (width - 1) + "\n"                        # a blank row, skipped
    text += "E-multi," + ",".join(ep.iloc[4, 1:-1]) + ',"a\nb"\n'  # a line break in a cell
    text += 'E-last,"never closed\n'                        # unclosed quote on the last line
    path.write_text(text, encoding="utf-8")
    return folder


def _files(folder):
    return [folder / f"{t}.csv" for t in ("episodes", "placements", "followups", "referrals")]


@pytest.fixture(scope="module")
def one_piece(extract, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    return validate_files(_files(extract), out, chunk_rows=None), out


@pytest.mark.parametrize("chunk_rows", [1, 7, 64])
def test_validating_in_chunks_writes_the_same_files_as_in_one_piece(
    extract, one_piece, tmp_path, chunk_rows
):
    whole, whole_out = one_piece
    out = tmp_path / "out"
    summary = validate_files(_files(extract), out, chunk_rows=chunk_rows)
    assert summary.tables == whole.tables
    assert summary.ignored == whole.ignored == {"episodes": ["note"]}
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (whole_out / name).read_bytes(), name
    for t, res in summary.results.items():
        assert res.n_accepted + res.n_quarantined == res.n_read, t
    assert summary.line().replace(str(out), "") == whole.line().replace(str(whole_out), "")


def test_the_planted_faults_are_found_across_chunks(extract, tmp_path):
    summary = validate_files(_files(extract), tmp_path / "out", chunk_rows=5)
    q = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str, keep_default_na=False)
    rules = set(q.loc[q["table"] == "episodes", "rule"])
    assert {"type_date", "code", "identity_number", "unique_key", "no_overlapping_episodes",
            "field_count", "unclosed_quote"} <= rules
    p = pd.read_csv(tmp_path / "out" / "problems.csv", dtype=str, keep_default_na=False)
    assert "digit_code_repaired" in set(p["rule"])
    assert "ignored_column" in set(p["rule"])
    assert summary.tables["episodes"]["quarantined"] == len(q[q["table"] == "episodes"])
    lines = (extract / "episodes.csv").read_text(encoding="utf-8").splitlines()
    last = q.loc[q["rule"] == "unclosed_quote", "row"].astype(int).max()
    assert last == len(lines) and lines[-1].startswith("E-last")  # lines after a multi-line row


def test_a_csv_file_read_in_chunks_holds_the_rows_read_whole(extract):
    whole = read_table(extract / "episodes.csv")
    (stream,) = open_tables(extract / "episodes.csv", chunk_rows=9).values()
    chunks = list(stream)
    assert len(chunks) > 1
    assert all(len(c.data) <= 9 for c in chunks)
    data = pd.concat([c.data for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(data, whole.data)
    assert [n for c in chunks for n in c.row_numbers] == whole.row_numbers
    assert stream.extra_columns == whole.extra_columns
    shifted = {p + sum(len(c.data) for c in chunks[:i]): v
               for i, c in enumerate(chunks) for p, v in c.field_counts.items()}
    assert shifted == whole.field_counts


def _identity_extract(folder, column_rows, header="personnummer"):
    ep = pd.read_csv(folder / "episodes.csv", dtype=str, keep_default_na=False, nrows=30)
    ep[header] = ""
    for i in column_rows:
        ep.loc[i, header] = _pnr(i)
    path = folder / "ident" / "episodes.csv"
    path.parent.mkdir(exist_ok=True)
    ep.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "rows, header",
    [([25], "personnummer"), ([24, 26, 27], "pnr"), (list(range(0, 30, 2)), "provider")],
    ids=["late-personnummer", "identity-header", "half-the-cells"],
)
def test_a_file_holding_identity_numbers_is_refused_alike_in_chunks(extract, tmp_path, rows,
                                                                      header):
    path = _identity_extract(extract, rows, header)
    messages = []
    for chunk_rows in (None, 4):
        out = tmp_path / f"out{chunk_rows}"
        with pytest.raises(DataValidationError, match="identity_number") as err:
            validate_files([path], out, chunk_rows=chunk_rows)
        assert not (out / "episodes.csv").exists()
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert _pnr(rows[0])[-4:] not in messages[0]
