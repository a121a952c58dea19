from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from residue.errors import NotFound, ParameterError, UnsupportedError
from residue.store.db import (
    BLOB_COLUMNS,
    MIGRATIONS,
    Database,
    check_id,
    from_json,
    new_id,
    split_sql,
    to_json,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "t.db")
    yield database
    database.close()


def _count(db: Database, table: str = "library_ops") -> int:
    row = db.query_one(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


def _insert_op(db: Database, op: str = "add") -> None:
    db.execute(
        "INSERT INTO library_ops (op, component_id, at) VALUES (?, ?, ?)", (op, "c", time.time())
    )


def test_open_applies_schema_and_pragmas(db: Database) -> None:
    assert db.schema_version == len(MIGRATIONS)
    tables = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sounds", "decompositions", "components", "component_tags", "library_ops"} <= tables
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
    assert db.query_one("PRAGMA foreign_keys")[0] == 1  # type: ignore[index]
    assert db.query_one("PRAGMA synchronous")[0] == 2  # type: ignore[index]  # FULL
    assert db.query_one("PRAGMA busy_timeout")[0] > 0  # type: ignore[index]
    assert db.integrity_ok()


def test_every_blob_column_exists(db: Database) -> None:
    for table, column in BLOB_COLUMNS:
        cols = {r["name"] for r in db.query(f"PRAGMA table_info({table})")}
        assert column in cols


def test_reopen_applies_nothing_and_keeps_rows(tmp_path: Path) -> None:
    first = Database.open(tmp_path / "t.db")
    _insert_op(first)
    first.close()
    first.close()  # a second close is harmless
    again = Database.open(tmp_path / "t.db")
    try:
        assert again.migrate() == 0
        assert again.schema_version == len(MIGRATIONS)
        assert _count(again) == 1
    finally:
        again.close()


def test_migrate_applies_only_new_scripts(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "t.db")
    try:
        extra = (*MIGRATIONS, "CREATE TABLE extra (x TEXT DEFAULT ';');")
        assert db.migrate(extra) == 1
        assert db.schema_version == len(MIGRATIONS) + 1
        assert db.migrate(extra) == 0
        db.execute("INSERT INTO extra DEFAULT VALUES")
        assert db.query_one("SELECT x FROM extra")["x"] == ";"  # type: ignore[index]
    finally:
        db.close()


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "t.db")
    try:
        broken = (*MIGRATIONS, "CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);")
        with pytest.raises(sqlite3.OperationalError):
            db.migrate(broken)
        assert db.schema_version == len(MIGRATIONS)
        assert db.query_one("SELECT name FROM sqlite_master WHERE name = 'half'") is None
    finally:
        db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "t.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(UnsupportedError, match="newer than"):
        Database.open(tmp_path / "t.db")


def test_in_memory(tmp_path: Path) -> None:
    db = Database.open(Path(":memory:"))
    _insert_op(db)
    assert _count(db) == 1
    db.close()


def test_transaction_commits_and_rolls_back(db: Database) -> None:
    with db.transaction():
        _insert_op(db)
    assert _count(db) == 1
    with pytest.raises(RuntimeError), db.transaction():
        _insert_op(db)
        raise RuntimeError("boom")
    assert _count(db) == 1
    assert not db.in_transaction


def test_nested_transaction_is_a_savepoint(db: Database) -> None:
    with db.transaction():
        _insert_op(db, "outer")
        with pytest.raises(RuntimeError), db.transaction():
            _insert_op(db, "inner")
            raise RuntimeError("inner fails")
        with db.transaction():
            _insert_op(db, "inner ok")
    ops = [r["op"] for r in db.query("SELECT op FROM library_ops ORDER BY seq")]
    assert ops == ["outer", "inner ok"]


def test_other_threads_never_see_an_open_transaction(db: Database) -> None:
    inside = threading.Event()
    seen: list[int] = []

    def writer() -> None:
        with pytest.raises(RuntimeError), db.transaction():
            _insert_op(db)
            inside.set()
            time.sleep(0.15)
            raise RuntimeError("roll back")

    def reader() -> None:
        inside.wait()
        seen.append(_count(db))  # waits for the lock, then sees the rolled-back state

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [0]


def test_concurrent_transactions_from_threads(db: Database) -> None:
    def work() -> None:
        for _ in range(40):
            with db.transaction():
                _insert_op(db)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [r["seq"] for r in db.query("SELECT seq FROM library_ops ORDER BY seq")]
    assert seqs == list(range(1, 161))
    assert db.integrity_ok()


def test_query_one_and_blob_references(db: Database) -> None:
    assert db.query_one("SELECT * FROM sounds") is None
    digest = "a" * 64
    assert not db.blob_referenced(digest)
    db.execute(
        "INSERT INTO sounds (sound_id, name, sample_rate, channels, n_samples, origin,"
        " tempo_bpm, created_at, provenance, blob) VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("s1", "n", 44100, 1, 10, "upload", None, 0.0, "{}", digest),
    )
    assert db.blob_referenced(digest)
    assert db.referenced_blobs() == {digest}


def test_foreign_keys_cascade(db: Database) -> None:
    db.execute(
        "INSERT INTO sounds (sound_id, name, sample_rate, channels, n_samples, origin,"
        " tempo_bpm, created_at, provenance, blob) VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("s1", "n", 44100, 1, 10, "upload", None, 0.0, "{}", "a" * 64),
    )
    db.execute(
        "INSERT INTO decompositions (decomposition_id, sound_id, key, settings, created_at,"
        " blob) VALUES (?,?,?,?,?,?)",
        ("d1", "s1", "k", "{}", 0.0, "b" * 64),
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO decompositions (decomposition_id, sound_id, key, settings, created_at,"
            " blob) VALUES (?,?,?,?,?,?)",
            ("d2", "missing", "k", "{}", 0.0, "b" * 64),
        )
    db.execute("DELETE FROM sounds WHERE sound_id = 's1'")
    assert _count(db, "decompositions") == 0


def test_icontains_is_unicode_case_insensitive(db: Database) -> None:
    row = db.query_one("SELECT residue_icontains('Ärger Kick', 'äRG'), residue_icontains('a', 'b')")
    assert row is not None and tuple(row) == (1, 0)


def test_split_sql_keeps_semicolons_in_literals() -> None:
    script = "CREATE TABLE t (x TEXT DEFAULT 'a;b');\nINSERT INTO t VALUES ('c;\nd');  DROP TABLE t"
    assert split_sql(script) == [
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "INSERT INTO t VALUES ('c;\nd');",
        "DROP TABLE t",
    ]


def test_ids() -> None:
    ids = {new_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(check_id("sound", i) == i for i in ids)
    for bad in ("", "../etc", "a b", "x" * 65, 3):
        with pytest.raises(NotFound, match="no sound"):
            check_id("sound", bad)  # type: ignore[arg-type]


def test_json_round_trip_and_refusals() -> None:
    value = {"a": np.float32(0.5), "b": np.int64(3), "c": (1, 2), "d": np.arange(3), "e": "ü"}
    assert from_json(to_json("provenance", value)) == {
        "a": 0.5, "b": 3, "c": [1, 2], "d": [0, 1, 2], "e": "ü"
    }
    with pytest.raises(ParameterError, match="provenance must be a dict"):
        to_json("provenance", [1])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="JSON-serialisable"):
        to_json("provenance", {"x": float("nan")})
    with pytest.raises(ParameterError, match="JSON-serialisable"):
        to_json("provenance", {"x": object()})
    assert from_json("[1]") == {}
