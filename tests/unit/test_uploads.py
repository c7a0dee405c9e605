"""Reading uploaded CSV files: sizes, encodings, delimiters, headers, row problems, the error report."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.core import uploads
from campaigns.core.errors import InvalidInput
from campaigns.core.settings import override_settings
from campaigns.core.uploads import (
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    MAX_ROWS,
    RowError,
    UploadRowsError,
    read_csv,
    report_csv,
)

COLUMNS = ["region_code", "name", "title", "email", "postal_address"]


def read(data: bytes, required=("name",), optional=("email",)):
    return read_csv(data, required=list(required), optional=list(optional))


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(InvalidInput) as info:
        read(data, **kwargs)
    assert list(info.value.errors) == ["file"]
    return info.value.errors["file"]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["utf8", "utf8-bom"])
def test_utf8_with_or_without_bom_is_read_as_is(bom):
    [row] = read(bom + "Name,email\n  Zoë Müller , zoe@example.org\n".encode())
    assert (row.line, row.values, row.problem) == (2, {"name": "Zoë Müller", "email": "zoe@example.org"}, None)


def test_latin1_from_excel_is_read_as_windows_1252_not_garbled():
    [row] = read("name,email\nZoë Müller – “quoted”,z@example.org\n".encode("cp1252"))
    assert row.values["name"] == "Zoë Müller – “quoted”"


def test_a_stray_latin1_byte_in_an_ascii_file_is_read_as_windows_1252():
    [row] = read(b"name,email\nJos\xe9,jose@example.org\n")
    assert row.values["name"] == "José"


def test_a_utf8_file_with_a_stray_latin1_byte_is_refused_naming_its_line_never_garbled():
    data = "name,email\r\n\r\nJosé,jose@example.org\r\n".encode() + b"Zo\xeb,zoe@example.org\r\n"
    assert refusal(data) == (
        'Line 4 of the file is not UTF-8 text ("Zo\ufffd,zoe@example.org"), though other lines are '
        '(line 3: "José,jose@example.org"): read either way, some names would be garbled, so nothing was read. '
        'Retype the characters shown as "\ufffd" on line 4 and upload the file again.'
    )
    bom_then_latin1 = b"\xef\xbb\xbfname,email\nAda,a@example.org\nJos\xe9,j@example.org\n"
    assert refusal(bom_then_latin1).startswith(
        'Line 3 of the file is not UTF-8 text ("Jos\ufffd,j@example.org"), though the file is marked as UTF-8:'
    )
    far = b"name,email\n" + "Zoë".encode() + b" " * 200 + b"M\xfcller" + b" " * 200 + b",z@example.org\n"
    assert '("…' + " " * 29 + "M\ufffdller" in refusal(far)  # the line is quoted around the byte


def test_binary_or_utf16_data_is_refused_asking_for_csv_utf8():
    message = refusal("name,email\nZoë,z@example.org\n".encode("utf-16"))
    assert '"CSV UTF-8"' in message


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_comma_semicolon_and_tab_delimiters_are_detected_from_the_header(delimiter):
    data = f"name{delimiter}email\nAda, Countess{delimiter}ada@example.org\n".encode()
    if delimiter == ",":
        data = b'name,email\n"Ada, Countess",ada@example.org\n'
    [row] = read(data)
    assert row.values == {"name": "Ada, Countess", "email": "ada@example.org"}


def test_wrong_header_names_what_was_expected_and_what_was_found():
    message = refusal(b"region;naam\nX;Y\n", required=COLUMNS[:2], optional=COLUMNS[2:])
    assert message == (
        'Expected the columns region_code,name,title,email,postal_address; found "region;naam". '
        "Missing: region_code, name."
    )


def test_header_is_matched_case_insensitively_in_any_order():
    [row] = read(b" EMAIL ,Name\na@example.org,Ada\n")
    assert row.values == {"email": "a@example.org", "name": "Ada"}


def test_unknown_columns_are_refused_by_name():
    assert refusal(b"name,email,phone\nAda,a@example.org,555\n").startswith(
        'The file has columns we don\'t use: "phone"'
    )


def test_duplicate_columns_are_refused():
    assert '"name" more than once' in refusal(b"name,Name\nAda,Ada\n")


def test_empty_file_and_header_only_are_refused():
    assert refusal(b"") == "The file is empty."
    assert refusal(b"\xef\xbb\xbf \r\n") == "The file is empty."
    assert refusal(b"name,email\r\n\r\n") == "The file has a header but no rows below it."


def test_file_over_the_size_limit_is_refused_stating_the_limit():
    with override_settings(max_upload_mb=1):
        message = refusal(b"name\n" + b"x" * int(1.1 * 1024 * 1024))
    assert message == "The file is 1.1 MB; the limit is 1 MB."


def test_a_header_of_more_columns_than_the_limit_is_refused_before_any_work_per_column():
    assert (MAX_COLUMNS, MAX_LINE_CHARS) == (100, 10_000)  # as README's "Limits on uploaded files" says
    many = b"name,email" + b",x" * 4_990  # 4,992 columns on a line of 9,990 characters
    assert refusal(many + b"\nAda,a@example.org\n") == (
        "The file's header has 4,992 columns; at most 100 are allowed. Expected the columns name,email."
    )
    assert refusal(b"name,email" + b",x" * 99 + b"\nAda\n").startswith("The file's header has 101 columns;")
    [row] = read(b"name,email" + b"," * 98 + b"\nAda,a@example.org\n")  # 100 columns, empty ones at the end
    assert row.values == {"name": "Ada", "email": "a@example.org"}


def test_a_line_longer_than_the_limit_is_refused_before_it_is_split_into_cells():
    # a header of 40,000 columns (it took 40 s when each column was counted against every other)
    header = ",".join(f"c{n}" for n in range(40_000)).encode()
    assert refusal(header + b"\nAda\n") == (
        f"Line 1 of the file has {len(header):,} characters; at most 10,000 are allowed on one line. "
        "Check that it is the right file, saved as CSV."
    )
    assert refusal(b"\r\n\r\n" + b"a," * 1_000_000).startswith("Line 3 of the file has 2,000,000 characters;")
    long_row = b"Ada," + b"x" * MAX_LINE_CHARS
    assert refusal(b"name,email\r\n" + long_row + b"\r\nBob,b@example.org\r\n").startswith(
        "Line 2 of the file has 10,004 characters;"
    )
    [row] = read(b"name,email\n" + long_row[:MAX_LINE_CHARS] + b"\n")  # exactly at the limit: fine
    assert len(row.values["email"]) == MAX_LINE_CHARS - 4


def test_more_rows_than_the_limit_are_refused_blank_lines_not_counted():
    assert MAX_ROWS == 100_000
    rows = read(b"name\n\n" + b"a\n" * MAX_ROWS + b"\n\n")
    assert (len(rows), rows[-1].line) == (MAX_ROWS, MAX_ROWS + 2)
    assert refusal(b"name\n\n" + b"a\n" * (MAX_ROWS + 1)) == (
        "The file has more than 100,000 rows; at most 100,000 are allowed in one file (line 100,003 is row 100,001)."
    )


def test_rows_with_the_wrong_number_of_cells_are_row_problems_not_a_refusal():
    rows = read(b"name,email\nAda,a@example.org\nBob\nCy,c@example.org,extra\nDee,d@example.org,,\n")
    assert [(r.line, r.problem) for r in rows] == [
        (2, None),
        (3, "has 1 cell, the header has 2"),
        (4, "has 3 cells, the header has 2"),
        (5, None),  # trailing empty cells, as spreadsheets write them, are fine
    ]


def test_line_numbers_count_blank_lines_and_multi_line_cells():
    rows = read(b'name,email\n\n"Ada\nLovelace",a@example.org\nBob,b@example.org\n')
    assert [(r.line, r.values["name"]) for r in rows] == [(3, "Ada\nLovelace"), (5, "Bob")]


def test_nul_bytes_and_bidi_controls_are_row_problems_formulas_are_kept_as_typed():
    rows = read("name,email\nA\x00da,a@example.org\nB\u202eob,b@example.org\n=1+1,c@example.org\n".encode())
    assert [(r.problem_column, r.problem) for r in rows] == [
        ("name", "contains a NUL byte; please retype it"),
        ("name", "contains text-direction control characters; please retype it"),
        ("", None),
    ]
    assert rows[2].values["name"] == "=1+1"


def test_report_csv_is_utf8_with_bom_and_echoes_values_safely():
    errors = [
        RowError(3, "email", "not-an-email", "That email address isn't valid."),
        RowError(4, "name", '=HYPERLINK("x")', "Same region and name as line 2."),
        RowError(5, "name", "B\u202eob", "contains text-direction control characters"),
    ]
    assert (
        report_csv(errors)
        == (
            "\ufeffline,column,value,problem\r\n"
            "3,email,not-an-email,That email address isn't valid.\r\n"
            '4,name,"\'=HYPERLINK(""x"")",Same region and name as line 2.\r\n'
            "5,name,B<U+202E>ob,contains text-direction control characters\r\n"
        ).encode()
    )


def test_upload_rows_error_says_how_many_problems_and_the_first():
    error = UploadRowsError([RowError(7, "", "", "b"), RowError(3, "email", "x", "Bad email.")])
    assert [e.line for e in error.errors] == [3, 7]
    assert error.user_message.startswith("The file has 2 problems, so nothing was saved. First, on line 3, email: Bad")


def test_readme_states_the_limits_uploads_are_held_to():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("### Limits on uploaded files")[1].split("\n## ")[0]
    for name in ("MAX_LINE_CHARS", "MAX_COLUMNS", "MAX_ROWS", "MAX_SHAPES", "MAX_POINTS"):
        assert f"| {getattr(uploads, name):,} |" in section, name
    assert f"| {uploads.MAX_JSON_DEPTH} levels |" in section
    assert f"| {uploads.MAX_JSON_OBJECTS:,} / {uploads.MAX_JSON_LISTS:,} |" in section
    assert f"| {uploads.MAX_NUMBER_CHARS} characters, finite |" in section
