"""A shared study's storage (`nnreg.search.storage`): the URL shown without its password, SQLite
refused, and a call retried while the database is away, then stopped in one line."""

import pytest
from sqlalchemy.exc import OperationalError

from nnreg.search.storage import StorageAway, StorageError, parse_url, retry


def test_a_url_is_shown_without_its_password():
    url = parse_url("postgresql://nnreg:s3cr%21t@db.example:5432/nnreg")
    assert url.shown == "postgresql://nnreg:***@db.example:5432/nnreg"
    assert url.scrub("could not connect as nnreg:s3cr!t") == "could not connect as nnreg:***"
    assert parse_url("journal:/shared/study.journal").shown == "journal:/shared/study.journal"


@pytest.mark.parametrize("url,message", [("sqlite:///study.db", "not safe for more than one writer"),
                                         ("not a url", "neither a database URL"),
                                         ("journal:", "names no file")])
def test_an_unusable_url_is_refused_in_one_line(url, message):
    with pytest.raises(StorageError, match=message):
        parse_url(url)


def _away(password):
    return OperationalError("connect", {}, Exception(f'connection to "db" failed: password {password} refused'))


def test_a_call_is_retried_while_the_database_is_away():
    url, said, calls = parse_url("postgresql://u:pw123@h/db"), [], []

    def call():
        calls.append(1)
        if len(calls) < 3:
            raise _away("pw123")
        return "done"

    resets = []
    assert retry(call, url, retry_s=10, log=said.append, reset=lambda: resets.append(1)) == "done"
    assert len(calls) == 3 and len(resets) == 2
    assert said == ["storage postgresql://u:***@h/db unreachable (OperationalError): retrying for up to 10 s"]


def test_a_database_that_stays_away_stops_in_one_line_without_the_password():
    url = parse_url("postgresql://u:pw123@h/db")

    def call():
        raise _away("pw123")

    with pytest.raises(StorageAway) as stopped:
        retry(call, url, retry_s=0.6)
    line = str(stopped.value)
    assert "\n" not in line and "pw123" not in line and "stayed unreachable" in line and "run again to resume" in line


def test_another_error_is_not_retried():
    calls = []

    def call():
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        retry(call, parse_url("postgresql://u:p@h/db"), retry_s=10)
    assert calls == [1]
