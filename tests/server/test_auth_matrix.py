"""Every route of the OpenAPI schema × no key / each role: 401 / 403 / allowed, generated from the
schema itself, so a new route cannot ship unprotected (nor silently open)."""

from __future__ import annotations

import re

import pytest
from server_support import ROLES

PUBLIC = {"/health"}


@pytest.fixture(scope="module")
def operations(admin):
    schema = admin.get("/openapi.json").json()
    found = []
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            found.append((method.upper(), path, spec))
    assert len(found) > 30
    return found


def _concrete(path: str) -> str:
    """Path parameters filled with values that name nothing (so allowed calls change nothing)."""
    return re.sub(r"\{[^}]+\}", lambda m: "9999999" if m.group(0) == "{face_id}" else "no-such-thing", path)


def _status(client, method: str, path: str) -> int:
    with client.stream(method, _concrete(path)) as response:  # streams (SSE) answer headers, then we leave
        return response.status_code


def test_every_api_route_declares_its_roles(operations):
    for method, path, spec in operations:
        if path in PUBLIC:
            assert "x-facelens-roles" not in spec
            continue
        assert path.startswith("/api/v1/"), path
        roles = spec.get("x-facelens-roles")
        assert roles and set(roles) <= set(ROLES), (method, path, roles)
        assert any("APIKeyHeader" in scheme for scheme in (spec.get("security") or [{}])[0]), (method, path)


def test_no_key_is_401_on_every_route(server, operations):
    with server.client(None) as anonymous:
        for method, path, _ in operations:
            expected = 200 if path in PUBLIC else 401
            status = _status(anonymous, method, path)
            assert status == expected, (method, path, status)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_exactly_its_routes(server, operations, role):
    with server.client(role) as client:
        for method, path, spec in operations:
            if path in PUBLIC:
                continue
            status = _status(client, method, path)
            if role in spec["x-facelens-roles"]:
                assert status not in (401, 403) and status < 500, (role, method, path, status)
            else:
                assert status == 403, (role, method, path, status)


def test_refusals_are_json_without_internals(server):
    with server.client(None) as anonymous:
        body = anonymous.get("/api/v1/subjects").json()
    assert body == {"error": "missing API key (header X-API-Key)", "code": "unauthorized"}
    with server.client("device") as device:
        forbidden = device.get("/api/v1/subjects")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"


def test_malformed_unknown_and_revoked_keys_are_401(server, admin):
    for bad in ("nonsense", "flk_0123456789abcdef_" + "x" * 43, server.keys["viewer"][:-2] + "zz"):
        response = httpx_get(server, bad)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized", bad
    assert httpx_get(server, server.keys["to-revoke"]).status_code == 200
    assert admin.delete("/api/v1/keys/to-revoke").json() == {"name": "to-revoke", "revoked": True}
    assert httpx_get(server, server.keys["to-revoke"]).status_code == 401  # at once: the API forgot it
    names = [k["name"] for k in admin.get("/api/v1/keys").json()["keys"] if k["revoked_at"]]
    assert "to-revoke" in names


def test_keys_created_through_the_api_work_and_are_audited(server, admin):
    made = admin.post("/api/v1/keys", json={"name": "api-made", "role": "viewer"})
    assert made.status_code == 201 and made.json()["key"].startswith("flk_")
    assert httpx_get(server, made.json()["key"]).status_code == 200
    assert admin.post("/api/v1/keys", json={"name": "api-made", "role": "viewer"}).status_code == 409
    assert admin.post("/api/v1/keys", json={"name": "x", "role": "root"}).status_code == 400
    listed = admin.get("/api/v1/keys").json()["keys"]
    assert all("key" not in k and "secret_hash" not in k for k in listed)  # never the key again
    entries = admin.get("/api/v1/audit", params={"event": "key.create"}).json()["entries"]
    assert any(e["details"] == {"name": "api-made", "role": "viewer", "by": "admin",
                                "actor": {"key": "admin", "role": "admin"}} for e in entries)


def test_key_in_query_only_where_declared(server):
    import httpx

    key = server.keys["viewer"]
    assert httpx.get(f"{server.base}/api/v1/cameras/door/snapshot.jpg", params={"api_key": key}).status_code != 401
    assert httpx.get(f"{server.base}/api/v1/subjects", params={"api_key": key}).status_code == 401


def httpx_get(server, key: str):
    import httpx

    return httpx.get(f"{server.base}/api/v1/subjects", headers={"X-API-Key": key}, timeout=30)
