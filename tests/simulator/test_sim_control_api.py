"""The control API (degrade, restore, incident, status) through the app's test client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from quart.typing import TestClientProtocol as Client

from simulator.control import Control
from simulator.generate import ENDPOINTS, FILE_NAMES, Plan, endpoint_body, file_bytes
from simulator.server import create_app
from simulator.state import SimulatorState
from tests.simulator.spec_rules import billing_up, file_cells, mms_cells, support_load

SEED = 5
COUNTRIES = ("RU", "DE", "FR")
PLAN = Plan(seed=SEED, countries=COUNTRIES)


@pytest.fixture
async def state(tmp_path: Path) -> SimulatorState:
    """A simulator state (seed 5, RU DE FR) with its files written to ``tmp_path``."""
    return await SimulatorState.create(PLAN, tmp_path)


@pytest.fixture
def client(state: SimulatorState) -> Client:
    return create_app(state).test_client()


async def post(client: Client, path: str, body: Any, status: int = 200) -> Any:
    """POST ``body`` (JSON-encoded unless bytes) and return the decoded answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(path, data=data)
    answer = json.loads(await response.get_data())
    assert response.status_code == status, answer
    return answer


async def get(client: Client, path: str) -> Any:
    response = await client.get(path)
    assert response.status_code == 200
    return json.loads(await response.get_data())


def control_of(status: dict[str, Any]) -> dict[str, Any]:
    """The control part of ``GET /_control/status``."""
    return {key: status[key] for key in Control().to_json()}


def inodes(directory: Path) -> dict[str, int]:
    return {name: (directory / name).stat().st_ino for name in FILE_NAMES}


async def test_degrade_writes_the_file_and_restore_undoes_it(
    client: Client, tmp_path: Path
) -> None:
    """Degrading SMS in DE makes its rows bad in sms.data at once; restore gives the old bytes."""
    with trio.fail_after(10):
        before = inodes(tmp_path)
        answer = await post(client, "/_control/degrade", {"product": "sms", "country": "de"})
        assert answer["degraded"] == [{"product": "sms", "country": "DE"}]
        cells = file_cells("sms.data", (tmp_path / "sms.data").read_bytes())
        assert cells["DE"]
        assert not any(cells["DE"])
        after = inodes(tmp_path)
        assert after["sms.data"] != before["sms.data"]  # replaced, not edited in place
        assert {n: i for n, i in after.items() if n != "sms.data"} == {
            n: i for n, i in before.items() if n != "sms.data"
        }
        status = await get(client, "/_control/status")
        assert status["generation"] == 0
        assert status["degraded"] == [{"product": "sms", "country": "DE"}]
        answer = await post(client, "/_control/restore", {"product": "sms", "country": "DE"})
        assert answer["degraded"] == []
    for name in FILE_NAMES:
        assert (tmp_path / name).read_bytes() == file_bytes(PLAN, name)


async def test_degrading_mms_switches_the_body_at_once(client: Client) -> None:
    """The ``/mms`` body changes with the degradation; the other endpoints keep their bytes."""
    with trio.fail_after(10):
        await post(client, "/_control/degrade", {"product": "mms", "country": "FR"})
        response = await client.get("/mms")
        cells = mms_cells(json.loads(await response.get_data()))
        assert cells["FR"]
        assert not any(cells["FR"])
        assert any(cells["RU"])
        assert any(cells["DE"])
        for endpoint in ("support", "accendent"):
            body = await (await client.get(f"/{endpoint}")).get_data()
            assert body == endpoint_body(PLAN, endpoint)


async def test_billing_support_and_incidents(client: Client, tmp_path: Path) -> None:
    """A billing function down, a pinned support load and a named incident, then undone."""
    with trio.fail_after(10):
        await post(client, "/_control/degrade", {"product": "billing", "function": "payout"})
        assert not billing_up((tmp_path / "billing.data").read_bytes())["payout"]
        for load in (3, 2, 1):
            await post(client, "/_control/degrade", {"product": "support", "load": load})
            items = await get(client, "/support")
            total = sum(
                item["active_tickets"]
                for item in items
                if type(item.get("active_tickets")) is int and "topic" in item
            )
            assert support_load(total) == load
        await post(client, "/_control/incident", {"topic": "SMS down in DE", "status": "active"})
        answer = await post(
            client, "/_control/incident", {"topic": "SMS down in DE", "status": "closed"}
        )
        assert answer["incidents"] == [{"topic": "SMS down in DE", "status": "closed"}]
        incidents = await get(client, "/accendent")
        assert incidents.count({"topic": "SMS down in DE", "status": "closed"}) == 1
        assert answer == {
            "steady": False,
            "degraded": [],
            "billing_down": ["payout"],
            "support_load": 1,
            "incidents": [{"topic": "SMS down in DE", "status": "closed"}],
        }
        await post(client, "/_control/restore", {"product": "billing", "function": "payout"})
        await post(client, "/_control/restore", {"product": "support"})
        await post(client, "/_control/incident", {"topic": "SMS down in DE", "status": None})
        assert control_of(await get(client, "/_control/status")) == Control().to_json()
    assert (tmp_path / "billing.data").read_bytes() == file_bytes(PLAN, "billing.data")
    for endpoint in ENDPOINTS:
        assert await (await client.get(f"/{endpoint}")).get_data() == endpoint_body(PLAN, endpoint)


async def test_degradations_survive_regeneration(
    client: Client, state: SimulatorState, tmp_path: Path
) -> None:
    """``POST /_control/regenerate`` and the refresh loop's ``state.regenerate`` keep it all."""
    with trio.fail_after(10):
        await post(client, "/_control/degrade", {"product": "voice", "country": "RU"})
        await post(client, "/_control/incident", {"topic": "kept", "status": "active"})
        assert (await post(client, "/_control/regenerate", b""))["generation"] == 1
        await state.regenerate()  # what --refresh calls
        status = await get(client, "/_control/status")
    assert status["generation"] == 2
    assert status["degraded"] == [{"product": "voice", "country": "RU"}]
    control = Control(degraded=frozenset({("voice", "RU")}), incidents=(("kept", "active"),))
    expected = Plan(seed=SEED, countries=COUNTRIES, generation=2, control=control)
    for name in FILE_NAMES:
        assert (tmp_path / name).read_bytes() == file_bytes(expected, name)
    assert await (await client.get("/accendent")).get_data() == endpoint_body(expected, "accendent")
    assert not any(file_cells("voice.data", (tmp_path / "voice.data").read_bytes())["RU"])


async def test_repeated_and_no_op_changes_write_nothing(client: Client, tmp_path: Path) -> None:
    """Restoring what is not degraded, or degrading twice, does not rewrite any file."""
    with trio.fail_after(10):
        before = inodes(tmp_path)
        await post(client, "/_control/restore", {"product": "email", "country": "RU"})
        await post(client, "/_control/incident", {"topic": "never set", "status": None})
        assert inodes(tmp_path) == before
        await post(client, "/_control/degrade", {"product": "email", "country": "RU"})
        once = inodes(tmp_path)
        await post(client, "/_control/degrade", {"product": "email", "country": "RU"})
        assert inodes(tmp_path) == once


async def test_concurrent_changes_all_apply(client: Client) -> None:
    """Changes sent at the same time are serialised; none is lost."""
    targets = [{"product": p, "country": c} for p in ("sms", "voice", "email") for c in COUNTRIES]
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for target in targets:
                nursery.start_soon(post, client, "/_control/degrade", target)
        status = await get(client, "/_control/status")
    assert len(status["degraded"]) == len(targets)


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/_control/degrade", b"{", "body is not JSON"),
        ("/_control/degrade", {"product": "sms", "country": "US"}, "country 'US' is not one"),
        ("/_control/degrade", {"product": "sms", "country": "DE", "x": 1}, "unknown key 'x'"),
        ("/_control/degrade", {"product": "fax", "country": "DE"}, "unknown product 'fax'"),
        ("/_control/degrade", {"product": "billing", "function": "x"}, "unknown billing function"),
        ("/_control/degrade", {"product": "support", "load": 9}, "'load' must be one of"),
        ("/_control/restore", {"product": "sms"}, "missing key 'country'"),
        ("/_control/incident", {"topic": "x", "status": "open"}, "'status' must be"),
        ("/_control/incident", [], "must be a JSON object"),
    ],
)
async def test_bad_bodies_get_400_and_change_nothing(
    client: Client, tmp_path: Path, path: str, body: Any, reason: str
) -> None:
    """A malformed control request answers 400 with the reason; state and files stay."""
    with trio.fail_after(10):
        before = inodes(tmp_path)
        answer = await post(client, path, body, status=400)
        assert reason in answer["error"]
        status = await get(client, "/_control/status")
    assert control_of(status) == Control().to_json()
    assert inodes(tmp_path) == before


async def test_too_many_incidents_is_400(client: Client) -> None:
    """The 101st named incident is refused; the first hundred stay."""
    with trio.fail_after(30):
        for index in range(100):
            await post(client, "/_control/incident", {"topic": f"t{index}", "status": "active"})
        answer = await post(
            client, "/_control/incident", {"topic": "t100", "status": "active"}, status=400
        )
        assert "at most 100" in answer["error"]
        assert len((await get(client, "/_control/status"))["incidents"]) == 100


async def test_wrong_method_on_control_routes(client: Client) -> None:
    """The control routes take POST only."""
    for path in ("/_control/degrade", "/_control/restore", "/_control/incident"):
        response = await client.get(path)
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST"


async def test_steady_state_reports_and_serves_steady_data(tmp_path: Path) -> None:
    """A steady simulator says so in its status; every cell is good until one is degraded."""
    plan = Plan(seed=SEED, countries=COUNTRIES, control=Control(steady=True))
    state = await SimulatorState.create(plan, tmp_path)
    client = create_app(state).test_client()
    with trio.fail_after(10):
        assert (await get(client, "/_control/status"))["steady"] is True
        assert all(billing_up((tmp_path / "billing.data").read_bytes()).values())
        await post(client, "/_control/degrade", {"product": "email", "country": "FR"})
        cells = file_cells("email.data", (tmp_path / "email.data").read_bytes())
        assert cells.keys() == set(COUNTRIES)
        assert {country: all(rows) for country, rows in cells.items()} == {
            "RU": True,
            "DE": True,
            "FR": False,
        }
        assert not any(cells["FR"])
