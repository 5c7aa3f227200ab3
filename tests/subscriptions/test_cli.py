"""``statusd subscriptions list|export|remove`` on a real database, settings read like the
daemon's (``--state-dir``, ``--config``, ``STATUSD_*``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from statusd.cli import main as statusd_main
from statusd.storage.url import DatabaseUrl
from statusd.subscriptions.cli import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main
from statusd.subscriptions.store import SubscriptionStore
from tests.subscriptions.conftest import LIMIT, NOW, active_email, scope
from tests.support.postgres import PostgresServer


def filled(state_dir: Path, database: DatabaseUrl | None = None) -> dict[str, str]:
    """Two email subscriptions (one pending) and a webhook in ``state_dir``'s database (or
    in ``database``)."""
    store = SubscriptionStore.open(database or state_dir / "history.sqlite3")
    try:
        active = active_email(store, "a@example.com", scope(("sms",), ("DE",)))
        store.add_email("b@example.com", scope(), "ru", NOW + 5, limit=LIMIT)
        hook = store.add_webhook(
            "https://h.example/in", "slack", scope(), "en", NOW + 9, limit=LIMIT
        )
        pending = next(s.id for s in store.subscriptions() if s.state == "pending")
    finally:
        store.close()
    return {"active": active, "pending": pending, "webhook": hook.id, "secret": hook.secret}


def run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), environ or {}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_list(tmp_path: Path) -> None:
    ids = filled(tmp_path)
    status, out, err = run("--state-dir", str(tmp_path), "list")
    assert status == EXIT_OK
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [ids["active"], ids["pending"], ids["webhook"]]
    assert "email  active  a@example.com  products=sms countries=DE lang=en" in lines[0]
    assert "webhook/slack  active  https://h.example/in  products=all countries=all" in lines[2]
    assert err == "3 subscriptions\n"
    status, out, _ = run("--state-dir", str(tmp_path), "list", "--channel", "webhook")
    assert [line.split()[0] for line in out.splitlines()] == [ids["webhook"]]


def test_export_is_json_lines_without_secrets(tmp_path: Path) -> None:
    ids = filled(tmp_path)
    status, out, _ = run("--state-dir", str(tmp_path), "export")
    assert status == EXIT_OK
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == [ids["active"], ids["pending"], ids["webhook"]]
    assert rows[0] | {"created_at": 0, "confirmed_at": 0} == {
        "id": ids["active"],
        "channel": "email",
        "address": "a@example.com",
        "format": None,
        "products": ["sms"],
        "countries": ["DE"],
        "lang": "en",
        "state": "active",
        "created_at": 0,
        "confirmed_at": 0,
        "expires_at": None,
        "failing_since": None,
    }
    assert ids["secret"] not in out
    assert "token" not in out


def test_remove_by_address_or_id(tmp_path: Path) -> None:
    ids = filled(tmp_path)
    status, out, _ = run("--state-dir", str(tmp_path), "remove", "b@example.com", ids["webhook"])
    assert status == EXIT_OK
    assert out.splitlines() == [f"removed {ids['pending']}", f"removed {ids['webhook']}"]
    status, out, err = run("--state-dir", str(tmp_path), "remove", "nobody@example.com")
    assert status == EXIT_REFUSED
    assert "no subscription has that id or address" in err
    _, out, _ = run("--state-dir", str(tmp_path), "list")
    assert [line.split()[0] for line in out.splitlines()] == [ids["active"]]


def test_settings_come_from_the_config_file_and_environment(tmp_path: Path) -> None:
    ids = filled(tmp_path)
    moved = tmp_path / "elsewhere.sqlite3"
    (tmp_path / "history.sqlite3").rename(moved)
    config = tmp_path / "statusd.toml"
    config.write_text(f'history_db = "{moved}"\n')
    status, out, _ = run("--config", str(config), "list")
    assert status == EXIT_OK
    assert ids["webhook"] in out
    status, out, _ = run("list", environ={"STATUSD_HISTORY_DB": str(moved)})
    assert status == EXIT_OK
    assert ids["webhook"] in out


def test_database_url_names_a_postgresql_database(tmp_path: Path, postgres: PostgresServer) -> None:
    """With ``database_url`` the commands work on the database the replicas share; the
    ``history_db`` file is not looked for."""
    url = postgres.create_database()
    ids = filled(tmp_path, DatabaseUrl("postgresql", url))
    environ = {"STATUSD_DATABASE_URL": url}
    status, out, _ = run("--state-dir", str(tmp_path / "none"), "list", environ=environ)
    assert status == EXIT_OK
    assert ids["webhook"] in out
    assert ids["active"] in out
    status, out, _ = run("remove", "a@example.com", environ=environ)
    assert (status, out) == (EXIT_OK, f"removed {ids['active']}\n")
    status, out, _ = run("export", environ=environ)
    assert ids["active"] not in out
    assert ids["webhook"] in out
    assert not (tmp_path / "none").exists()


def test_no_database_and_bad_usage(tmp_path: Path) -> None:
    status, _, err = run("--state-dir", str(tmp_path / "none"), "list")
    assert status == EXIT_REFUSED
    assert "no database at" in err
    assert not (tmp_path / "none").exists()  # nothing created
    assert run("--state-dir", str(tmp_path), "frobnicate")[0] == EXIT_USAGE
    status, _, err = run("list", environ={"STATUSD_SUBSCRIBE_RATE": "0"})
    assert status == EXIT_USAGE
    assert "subscribe_rate" in err


def test_statusd_hands_the_subcommand_over(tmp_path: Path) -> None:
    """``statusd subscriptions …`` runs this command, also as a real process."""
    ids = filled(tmp_path)
    assert statusd_main(["subscriptions", "--state-dir", str(tmp_path), "list"]) == EXIT_OK
    done = subprocess.run(
        [sys.executable, "-m", "statusd", "subscriptions", "--state-dir", str(tmp_path), "export"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert ids["webhook"] in done.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "statusd", "subscriptions", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0
    assert "list" in helped.stdout
    assert "remove" in helped.stdout
