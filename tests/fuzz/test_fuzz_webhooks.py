"""Fuzzing the webhook endpoint: every answer is a deliberate 2xx or 4xx, and only good deliveries are stored.

An independent oracle (``expected_status``) says what the endpoint must
answer for each generated request, following the documented order of
checks; the inbox and the queue must then hold exactly the deliveries that
were correctly signed, named by both headers, of an accepted content type,
non-empty, not a ping and under the size cap.
"""

from __future__ import annotations

from hypothesis import example, given
from inbound.helpers import announced
from sqlalchemy import select

from fuzz.conftest import FUZZ_MORE, MAX_BODY_BYTES, OTHER_SECRET, WEBHOOK_SECRETS
from fuzz.strategies import SIGNATURE_KINDS, Delivery, deliveries, explicit_deliveries
from ghapp.store.inbox import raw_body
from ghapp.store.schema import inbox
from ghapp.webhook_sender import hub_signature

PATH = "/api/github/webhooks"
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
ACCEPTED_TYPES = ("application/json", "application/x-www-form-urlencoded")


def _well_formed(value: str | None) -> bool:
    return bool(value) and len(value) <= 64 and set(value) <= TOKEN_CHARS  # type: ignore[arg-type]


def signed_by_a_configured_secret(body: bytes, signature: str | None) -> bool:
    """The oracle's own HMAC check: exactly ``sha256=<lowercase hex>`` of the body with one configured secret."""
    if not signature:
        return False
    wanted = {hub_signature(secret, body) for secret in WEBHOOK_SECRETS}
    return signature in wanted


def expected_status(delivery: Delivery) -> int:
    """What the endpoint must answer, in the order its docstring documents the checks."""
    headers = delivery.headers
    if len(delivery.body) > MAX_BODY_BYTES:
        return 413
    if not signed_by_a_configured_secret(delivery.body, headers.get("X-Hub-Signature-256")):
        return 401
    if not _well_formed(headers.get("X-GitHub-Event")) or not _well_formed(headers.get("X-GitHub-Delivery")):
        return 400
    mimetype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if mimetype not in ACCEPTED_TYPES:
        return 415
    if not delivery.body:
        return 400
    if headers["X-GitHub-Event"] == "ping":
        return 200
    return 202


def test_webhook_answers_follow_the_oracle_and_only_good_deliveries_are_stored(
    fuzz_server, http, fuzz_runtime, redis_conn
):
    accepted: dict[str, bytes] = {}  # guid -> body of its first accepted delivery
    statuses: set[int] = set()
    kinds: set[str] = set()

    @FUZZ_MORE
    @given(delivery=deliveries(WEBHOOK_SECRETS, OTHER_SECRET, MAX_BODY_BYTES))
    def run(delivery: Delivery) -> None:
        response = http.post(fuzz_server + PATH, data=delivery.body, headers=delivery.headers, timeout=30)
        wanted = expected_status(delivery)
        assert response.status_code == wanted, (response.status_code, response.text[:300], delivery)
        statuses.add(response.status_code)
        kinds.add(delivery.signature_kind)
        document = response.json()
        assert isinstance(document, dict), response.text[:300]
        if wanted >= 400:
            # A refusal says why in words and never echoes a secret.
            assert isinstance(document.get("error"), str) and document["error"]
            assert not any(secret in response.text for secret in WEBHOOK_SECRETS)
        if wanted == 202:
            guid = delivery.headers["X-GitHub-Delivery"]
            assert document["duplicate"] is (guid in accepted)
            accepted.setdefault(guid, delivery.body)

        with fuzz_runtime.engine.connect() as conn:
            rows = conn.execute(select(inbox.c.guid, inbox.c.body, inbox.c.body_encoding))
            stored = {row.guid: raw_body(row) for row in rows}
        assert stored == accepted
        assert set(announced(redis_conn)) == set(accepted)  # every stored GUID announced, and nothing else

    # Every signature kind and every kind of answer is tried at least once, whatever the generator draws.
    for explicit in explicit_deliveries(WEBHOOK_SECRETS, OTHER_SECRET, MAX_BODY_BYTES):
        run = example(delivery=explicit)(run)
    run()
    # The generator reached every kind of answer, so the property was not checked on refusals alone.
    assert {200, 202, 400, 401, 413, 415} <= statuses, statuses
    assert kinds == set(SIGNATURE_KINDS), set(SIGNATURE_KINDS) - kinds


def test_signature_comparison_never_raises_on_hostile_headers(fuzz_server, http, fuzz_runtime):
    """Header bytes outside ASCII reach the HMAC comparison as text; they must be a 401, not a crash."""
    body = b'{"action": "opened"}'
    for signature in ("sha256=" + "é" * 64, "sha256=\u00ff", "sha256=" + "a" * 63 + "\u00e9", "sha1=é"):
        response = http.post(
            fuzz_server + PATH,
            data=body,
            timeout=30,
            headers={
                "X-Hub-Signature-256": signature,
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": "hostile-1",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 401, (signature, response.status_code)
    with fuzz_runtime.engine.connect() as conn:
        assert conn.execute(select(inbox.c.guid)).first() is None
