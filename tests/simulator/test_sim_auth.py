"""App authentication: GitHub's checks of the app JWT, installation tokens, their scope and expiry."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _get_app(sim: Any, token: str) -> requests.Response:
    return requests.get(f"{sim.url}/app", headers={"Authorization": f"Bearer {token}"})


def test_valid_jwt_reads_the_app(setup: Any) -> None:
    response = _get_app(setup.sim, setup.sim.app_jwt())
    assert response.status_code == 200
    assert response.json()["id"] == setup.sim.app_id
    assert response.json()["slug"] == setup.sim.config.app_slug


def test_integer_iss_and_client_id_iss_are_accepted(setup: Any) -> None:
    assert _get_app(setup.sim, setup.sim.app_jwt(iss=setup.sim.app_id)).status_code == 200
    assert _get_app(setup.sim, setup.sim.app_jwt(iss=setup.sim.client_id)).status_code == 200


def test_jwt_cannot_act_on_repositories(setup: Any) -> None:
    refused = setup.api("GET", "/repos/acme/app", headers=setup.jwt_headers())
    assert refused.status_code == 403 and refused.json()["message"] == "Resource not accessible by integration"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": 60 * 11}, "'Expiration time' claim ('exp') is too far in the future"),
        ({"exp": -10}, "'Expiration time' claim ('exp') must be a numeric value representing the future time"),
        ({"iat": 120}, "'Issued at' claim ('iat') must be an Integer representing the time"),
        ({"iss": "999"}, "A JSON web token could not be decoded"),
        ({"iss": "my-app"}, "'Issuer' claim ('iss') must be an Integer"),
        ({"iss": None}, "Missing 'issuer' claim ('iss') in assertion"),
    ],
)
def test_bad_jwt_claims_get_github_messages(setup: Any, claims: dict[str, int | str | None], message: str) -> None:
    now = int(setup.sim.config.now())
    adjusted = {k: (now + v if isinstance(v, int) else v) for k, v in claims.items()}
    response = _get_app(setup.sim, setup.sim.app_jwt(**adjusted))
    assert response.status_code == 401
    assert response.json()["message"].startswith(message)


def test_jwt_signed_by_another_key_is_refused(setup: Any) -> None:
    now = int(time.time())
    forged = jwt.encode({"iat": now - 60, "exp": now + 500, "iss": str(setup.sim.app_id)}, _other_key(), "RS256")
    response = _get_app(setup.sim, forged)
    assert response.status_code == 401
    assert response.json()["message"] == "A JSON web token could not be decoded"


def test_garbage_and_missing_credentials(setup: Any) -> None:
    assert _get_app(setup.sim, "eyJnot.a.jwt").status_code == 401
    assert requests.get(f"{setup.sim.url}/app").status_code == 401
    bad = requests.get(f"{setup.sim.url}/repos/acme/app", headers={"Authorization": "token ghs_unknown"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert setup.sim.counters.auth_failures == 3


def test_token_shape_and_expiry(setup: Any, clock: Any) -> None:
    response = setup.mint()
    body = response.json()
    assert response.status_code == 201
    assert body["token"].startswith("ghs_")
    assert body["expires_at"].endswith("Z")
    headers = {"Authorization": f"token {body['token']}"}
    assert requests.get(f"{setup.sim.url}/repos/acme/app", headers=headers).status_code == 200
    clock.advance(3599)
    assert requests.get(f"{setup.sim.url}/repos/acme/app", headers=headers).status_code == 200
    clock.advance(2)
    expired = requests.get(f"{setup.sim.url}/repos/acme/app", headers=headers)
    assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"


def test_token_scoped_to_one_repository(setup: Any) -> None:
    headers = setup.token_headers(repositories=["app"])
    assert setup.api("GET", "/repos/acme/app", headers=headers).status_code == 200
    outside = setup.api("GET", "/repos/acme/other", headers=headers)
    assert outside.status_code == 404 and outside.json()["message"] == "Not Found"
    listed = setup.api("GET", "/installation/repositories", headers=headers).json()
    assert [r["full_name"] for r in listed["repositories"]] == ["acme/app"]
    by_id = setup.sim.create_repo("acme/other")["id"]
    scoped = setup.token_headers(repository_ids=[by_id])
    assert setup.api("GET", "/repos/acme/app", headers=scoped).status_code == 404
    assert setup.api("GET", "/repos/acme/other", headers=scoped).status_code == 200


def test_repository_outside_the_installation_is_not_found(setup: Any) -> None:
    setup.sim.create_repo("acme/private-thing")
    setup.sim.create_repo("elsewhere/app")
    assert setup.api("GET", "/repos/acme/private-thing").status_code == 404
    assert setup.api("GET", "/repos/elsewhere/app").status_code == 404
    response = setup.mint(repositories=["private-thing"])
    assert response.status_code == 422
    assert "not accessible to the parent installation" in response.json()["message"]


def test_permissions_scope_the_token(setup: Any) -> None:
    read_only = setup.token_headers(permissions={"pull_requests": "read", "contents": "read"})
    pull = setup.open_pull("feature")
    assert setup.api("GET", f"/repos/acme/app/pulls/{pull['number']}", headers=read_only).status_code == 200
    refused = setup.api("PATCH", f"/repos/acme/app/pulls/{pull['number']}", headers=read_only, json={"title": "x"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by integration"
    too_much = setup.mint(permissions={"administration": "write"})
    assert too_much.status_code == 422
    assert too_much.json()["message"] == "The permissions requested are not granted to this installation."


def test_installation_lookups_with_jwt(setup: Any) -> None:
    sim = setup.sim
    headers = setup.jwt_headers()
    found = requests.get(f"{sim.url}/repos/acme/app/installation", headers=headers)
    assert found.status_code == 200 and found.json()["id"] == setup.installation_id
    sim.create_repo("nobody/else")
    assert requests.get(f"{sim.url}/repos/nobody/else/installation", headers=headers).status_code == 404
    one = requests.get(f"{sim.url}/app/installations/{setup.installation_id}", headers=headers)
    assert one.json()["account"]["login"] == "acme"
    assert requests.get(f"{sim.url}/app/installations/99999999", headers=headers).status_code == 404
    # an installation token is not an app credential
    assert requests.get(f"{sim.url}/app", headers=setup.headers).status_code == 401


def test_app_installations_paginate(setup: Any) -> None:
    sim = setup.sim
    for index in range(4):
        sim.install(f"org{index}", ["repo"])
    first = requests.get(f"{sim.url}/app/installations?per_page=2", headers=setup.jwt_headers())
    assert len(first.json()) == 2
    assert 'rel="next"' in first.headers["Link"] and "page=3" in first.headers["Link"]


def test_suspended_installation(setup: Any) -> None:
    sim = setup.sim
    sim.suspend(setup.installation_id)
    refused = setup.mint()
    assert refused.status_code == 403
    assert refused.json()["message"] == "This installation has been suspended"
    assert setup.api("GET", "/repos/acme/app").status_code == 401
    sim.unsuspend(setup.installation_id)
    assert setup.mint().status_code == 201
