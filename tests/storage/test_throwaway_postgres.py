"""The test suite's own PostgreSQL (tests/support/postgres.py) works as the replica tests
need it: a fresh database per test, and a server that can be stopped and started again."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.postgres import PostgresServer


def test_a_fresh_database_takes_connections(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (3,)
    assert postgres.url() != url


def test_stopped_server_refuses_then_serves_again(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x INTEGER)")
        conn.execute("INSERT INTO kept VALUES (7)")
    postgres.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)
    finally:
        postgres.start()
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (7,)
