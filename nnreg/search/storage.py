"""A study's shared storage, for workers (`nnreg.search.shared`): where its URL comes from, the
URL as it may be shown, and Optuna's storage for it, every call retried while the storage is
away.

- The URL is read from the environment variable `search.storage.url_env` or the git-ignored
  file `search.storage.url_file`, never from params.yaml, so it reaches no file DVC or git
  keeps. It is shown only by `Url.shown` (the password replaced by ***), and `Url.scrub`
  takes the password out of any text (an error message) before it is printed.
- A database URL (`postgresql://...`, `mysql+pymysql://...`) is Optuna's `RDBStorage`;
  `journal:<path>` is Optuna's `JournalFileBackend`, appending under its file lock (taken
  over from a killed process after `LOCK_GRACE_S`), for processes on one host (the stage's own journal, `nnreg.search.journal.BatchJournal`, has one writer). SQLite is
  refused: it is not safe for more than one writer.
- `Retrying` repeats a storage call that failed because the database could not be reached
  (SQLAlchemy's `OperationalError`, `InterfaceError`, a connection invalidated, a session
  left mid-transaction by one: discarded before the next try), backing off
  from 0.25 s to 8 s, for at most `search.storage.retry_s` seconds; then `StorageAway` says so
  in one line. Every call Optuna makes (asks, tells, reads) goes through it. A call that reached
  the database before the connection dropped may be applied twice: an ask then leaves a trial
  nobody holds (its lease runs out, `nnreg.search.shared`), a tell a second time is refused by
  the storage (`UpdateFinishedTrialError`), which the workers take as done.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from nnreg.errors import NnregError
from nnreg.params.search import Storage as StorageParams


# A journal's lock left by a process killed while appending is taken over after this many
# seconds (Optuna's default, 30, stalls every worker that long); an append holds it for milliseconds.
LOCK_GRACE_S = 5


class StorageError(NnregError):
    """A storage that cannot be used as configured: one line, nothing trained."""


class StorageAway(StorageError):
    """The storage stayed unreachable for longer than `retry_s`."""


class Url(NamedTuple):
    """A storage's URL, with what may be shown of it."""

    url: str
    secrets: tuple[str, ...]  # the password, as written in the URL and decoded

    @property
    def shown(self) -> str:
        return self.scrub(self.url)

    def scrub(self, text: str) -> str:
        """`text` with the password replaced by ***."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    @property
    def is_journal(self) -> bool:
        return self.url.startswith("journal:")


def read_url(storage: StorageParams, root: Path, environ=None) -> Url:
    """The URL `storage` names: from its environment variable, or its file (which git must
    ignore). Raises StorageError (one line, no secret in it) if it is missing or unusable."""
    environ = os.environ if environ is None else environ
    if storage.url_env is not None:
        url = environ.get(storage.url_env, "").strip()
        if not url:
            raise StorageError(f"search.storage.url_env: the environment variable {storage.url_env} is not set "
                               "(it holds the study's URL: postgresql://user:password@host:port/database, or "
                               "journal:<path>)")
    else:
        path = root / storage.url_file
        if not path.is_file():
            raise StorageError(f"search.storage.url_file: {storage.url_file} is not a file (it holds the study's URL)")
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", storage.url_file], cwd=root,
                                 capture_output=True)
        if ignored.returncode == 1:  # 0: ignored; 128: not a git repository, nothing to leak into
            raise StorageError(f"search.storage.url_file: {storage.url_file} is not ignored by git: add it to "
                               ".gitignore (it holds a password)")
        url = path.read_text().strip()
    return parse_url(url)


def parse_url(url: str) -> Url:
    if url.startswith("journal:"):
        if not url.removeprefix("journal:"):
            raise StorageError("the storage URL journal:<path> names no file")
        return Url(url, ())
    from urllib.parse import urlsplit

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError("the storage URL is neither a database URL (postgresql://user:password@host/database) "
                           "nor journal:<path>") from None
    if parsed.get_backend_name() == "sqlite":
        raise StorageError("the storage URL is SQLite, which is not safe for more than one writer: use PostgreSQL "
                           "(postgresql://...), MySQL, or journal:<path> for processes on one host")
    try:
        written = urlsplit(url).password
    except ValueError:
        written = None
    return Url(url, tuple({p for p in (parsed.password, written) if p}))


def _retryable(error: BaseException | None) -> bool:
    """Whether `error`, or what caused it (Optuna wraps a failed commit in StorageInternalError),
    is the database out of reach."""
    try:
        from sqlalchemy import exc
    except ImportError:  # no SQLAlchemy: no database either
        return False
    while error is not None:
        if (isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.PendingRollbackError))
                or (isinstance(error, exc.DBAPIError) and error.connection_invalidated)):
            return True
        error = error.__cause__
    return False


def retry(call: Callable[[], Any], url: Url, retry_s: float, log: Callable[[str], None] | None = None,
          reset: Callable[[], None] | None = None) -> Any:
    """`call()`, repeated with backoff while the storage is unreachable, for at most `retry_s`
    seconds; `reset()` after each failure (a session left mid-transaction by a dropped
    connection refuses every later call until it is discarded)."""
    start, wait = time.monotonic(), 0.25
    while True:
        try:
            return call()
        except Exception as error:  # noqa: BLE001: only the retryable ones are retried
            if not _retryable(error):
                raise
            away = time.monotonic() - start
            if away + wait > retry_s:
                first = url.scrub(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
                raise StorageAway(f"the storage {url.shown} stayed unreachable for {away:.0f} s "
                                  f"(search.storage.retry_s: {retry_s:g}): {first}; run again to resume") from None
            if log is not None and wait == 0.25:
                log(f"storage {url.shown} unreachable ({type(error).__name__}): retrying for up to {retry_s:g} s")
            if reset is not None:
                try:
                    reset()
                except Exception:  # noqa: BLE001: the next try says what is wrong
                    pass
            time.sleep(wait)
            wait = min(2 * wait, 8.0)


class _Counted(BaseStorage):
    """`Retrying`'s state: the storage it wraps, and its calls counted."""

    def __init__(self, inner: BaseStorage, url: Url, retry_s: float, log: Callable[[str], None] | None = None,
                 reset: Callable[[], None] | None = None):
        self._inner, self._url, self._retry_s, self._log, self._reset = inner, url, retry_s, log, reset
        self.seconds, self.calls = 0.0, 0
        self.by_call: dict[str, list] = {}  # method -> [seconds, calls]


def _wrapped(name: str):
    def method(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return retry(lambda: getattr(self._inner, name)(*args, **kwargs), self._url, self._retry_s, self._log,
                         self._reset)
        finally:
            took = time.perf_counter() - start
            self.seconds += took
            self.calls += 1
            tally = self.by_call.setdefault(name, [0.0, 0])
            tally[0] += took
            tally[1] += 1

    method.__name__ = name
    return method


# Every storage method, retried and counted: Optuna's abstract ones, and those BaseStorage builds on them.
RETRIED = sorted(BaseStorage.__abstractmethods__) + ["get_trial_id_from_study_id_trial_number", "get_n_trials",
                                                     "get_best_trial", "remove_session"]
Retrying = type(_Counted)("Retrying", (_Counted,), {
    "__module__": __name__, **{name: _wrapped(name) for name in RETRIED},
    "__doc__": "An Optuna storage whose every call is `retry`'d; `seconds` and `calls` count them (every "
               "thread's), `by_call` by method."})


def _rdb_storage(url: str, attempts: int = 5) -> RDBStorage:
    """Optuna's RDBStorage for `url`. Workers starting together on an empty database race to
    create Optuna's tables (one wins, the others' CREATE TABLE fails): the losers try again,
    finding the tables made. pool_pre_ping: a connection the server dropped (a restart) is
    replaced before use."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def open_storage(url: Url, retry_s: float, log: Callable[[str], None] | None = None) -> BaseStorage:
    """Optuna's storage for `url`, every call retried (see `retry`)."""
    if url.is_journal:
        path = Path(url.url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = JournalFileSymlinkLock(str(path), grace_period=LOCK_GRACE_S)
        return Retrying(JournalStorage(JournalFileBackend(str(path), lock_obj=lock)), url, retry_s, log)
    rdb = retry(lambda: _rdb_storage(url.url), url, retry_s, log)
    # Optuna's cache of finished trials (what it wraps an RDBStorage in for a URL): the sampler
    # reads the whole study at every ask, from the database only what is not finished.
    return Retrying(optuna.storages.get_storage(rdb), url, retry_s, log, reset=rdb.remove_session)
