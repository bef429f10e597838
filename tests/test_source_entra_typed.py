"""The typed Entra sign-in path (Graph signIn line → EntraSignIn Struct → Event) against the plain one:
the same events, errors and unmapped reasons, and every other Entra shape (Azure Monitor, Panther,
audits, risk detections) read the plain way."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.model import Provider
from pushguard.simulate.scenario import simulate
from pushguard.sources.entra import SOURCE as ENTRA
from pushguard.sources.readers import Decoded, decode_json, read_file, read_records
from tests.conftest import FIXTURES
from tests.typed_paths import mutated, run, typed_equals_plain, vendor_files


def _typed_equals_plain(line: bytes) -> bool | None:
    return typed_equals_plain(ENTRA, ENTRA, line)


@pytest.fixture(scope="module")
def signins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "tenant"
    simulate(13, 60, 4, out)
    return out / "entra" / "signins.jsonl"


@pytest.fixture(scope="module")
def graph_signin(signins: Path) -> dict[str, Any]:
    first: dict[str, Any] = json.loads(signins.read_bytes().splitlines()[0])
    return first


@pytest.mark.parametrize("path", vendor_files("entra"), ids=lambda p: f"{p.parent.parent.name}-{p.name}")
def test_fixture_and_sample_files_read_the_same_both_ways(path: Path) -> None:
    assert run(read_records(path)) == run(read_file(path))
    assert run(read_records(path, Provider.ENTRA), Provider.ENTRA) == run(read_file(path), Provider.ENTRA)
    for line in path.read_bytes().splitlines():
        assert _typed_equals_plain(line) in (None, True), line[:200]


def test_azure_monitor_and_panther_records_are_read_plain() -> None:
    for name in ("signin-azure-monitor-handmade.jsonl", "signin-azure-monitor-panther.jsonl"):
        assert not any(isinstance(item, Decoded) for item in read_records(FIXTURES / "entra" / name))


def test_simulated_signins_read_the_same_and_all_of_them_typed(signins: Path) -> None:
    items = list(read_records(signins))
    assert len(items) == signins.read_bytes().count(b"\n") > 200
    assert all(isinstance(item, Decoded) for item in items)  # a silent fall back would fail here
    typed = run(items)
    assert typed == run(read_file(signins))
    assert typed[2] == 0 and not typed[4]


def _refused(signin: dict[str, Any]) -> dict[str, bytes]:
    def line(record: object) -> bytes:
        return json.dumps(record).encode()

    without = {key: value for key, value in signin.items() if key != "createdDateTime"}
    return {
        "Azure Monitor record": line({"time": "2026-03-02T08:00:00Z", "category": "SignInLogs", **signin}),
        "properties": line({**signin, "properties": {"id": "x"}}),
        "lower-cased top-level key": line({**signin, "correlationid": "c"}),
        "resultType": line({**signin, "resultType": "0"}),
        "risk detection": line({**signin, "riskEventType": "unfamiliarFeatures"}),
        "audit": line({**signin, "activityDisplayName": "Reset password"}),
        "no createdDateTime": line(without),
        "nobody named": line(
            {
                k: None
                if k in ("userId", "userPrincipalName", "appId", "status", "servicePrincipalId")
                else v
                for k, v in signin.items()
            }
        ),
        "status a string": line({**signin, "status": "ok"}),
        "authenticationDetails an object": line({**signin, "authenticationDetails": {"a": 1}}),
        "an Okta record": line({**signin, "eventType": "user.session.start"}),
        "Graph list envelope": line({"@odata.context": "x", "value": [signin]}),
        "lone surrogate escape": line({**signin, "userDisplayName": "x"}).replace(b'"x"', b'"\\udc00"'),
        "invalid UTF-8": line({**signin, "userDisplayName": "@"}).replace(b'"@"', b'"\xfe"'),
        "broken JSON": line(signin)[:-5],
    }


def test_lines_the_typed_decoder_refuses(graph_signin: dict[str, Any]) -> None:
    for name, line in _refused(graph_signin).items():
        assert ENTRA.decode_line(line) is None, name


def test_a_file_of_odd_lines_counts_the_same_both_ways(tmp_path: Path, graph_signin: dict[str, Any]) -> None:
    good = json.dumps(graph_signin).encode()
    odd = json.dumps({**graph_signin, "id": None, "originalRequestId": 5, "isInteractive": "TRUE"}).encode()
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\n".join([good, b"", *_refused(graph_signin).values(), odd, good]) + b"\n")
    items = list(read_records(path))
    last = 2 + len(_refused(graph_signin)) + 2
    assert [item.position for item in items if isinstance(item, Decoded)] == [1, last - 1, last]
    typed = run(items)
    assert typed == run(read_file(path))
    assert typed[2] > 3  # errors there, counted the same


_ODD_VALUES: list[Any] = [
    None,
    {},
    [],
    0,
    1,
    2.5,
    True,
    "",
    "unknown",
    "Success",
    "Failure",
    500121,
    50074,
    53003,
    "Mobile app notification",
    "MFA denied; user declined the authentication",
    "MFA denied; user did not select the correct number",
    "MFA completed in Azure AD",
    ["interactiveUser"],
    [{"authenticationMethod": "Mobile app notification", "succeeded": True}],
    [{}],
    {"errorCode": 500121, "additionalDetails": "MFA denied; Phone App Reported Fraud"},
]


def test_mutated_signins_parse_the_same_both_ways(signins: Path) -> None:
    rng = random.Random(5)
    lines = signins.read_bytes().splitlines()[:300]
    lines += [line for path in vendor_files("entra", "signin") for line in path.read_bytes().splitlines()]
    records = [decode_json(line) for line in lines if line.strip()]
    encoder = msgspec.json.Encoder()
    taken = Counter[bool]()
    for _ in range(2000):
        line = encoder.encode(mutated(rng.choice(records), rng, _ODD_VALUES))
        same = _typed_equals_plain(line)
        taken[same is not None] += 1
        assert same in (None, True), line
    assert taken[True] > 800
