"""The app's webhook delivery log: list (cursor pagination), one delivery, and redelivery.

GitHub keeps deliveries for 3 days on github.com and 7 on Enterprise Server (GitHub docs: "Redelivering
webhooks": only deliveries of that window are listed and can be redelivered), see
``SimulatorConfig.delivery_retention_s``. Older ones are left out of the list, and reading or
redelivering one is answered 404 Not Found: GitHub's exact answer for a delivery past the window is not
documented (go-vela/server#707 only reports that redelivering an old one fails), and a 404 is what the
endpoints document for a delivery they do not have.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ghapp.testing.errors import ApiError, not_found
from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.models import iso
from ghapp.testing.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE
from ghapp.testing.webhooks import Delivery


def item_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": iso(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": delivery.duration,
        "status": delivery.status,
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": delivery.installation_id,
        "repository_id": delivery.repository_id,
        "throttled_at": None,
    }


def _kept(call: Call, delivery: Delivery) -> bool:
    """Still within GitHub's retention window."""
    return delivery.delivered_at > call.world.now() - call.sim.config.delivery_retention_s


def _find(call: Call, delivery_id: int) -> Delivery:
    found = call.sim.sender.find(delivery_id)
    if found is None or not _kept(call, found):
        raise not_found()
    return found


def list_deliveries(call: Call) -> Reply:
    try:
        per_page = min(max(int(call.args.get("per_page", DEFAULT_PER_PAGE)), 1), MAX_PER_PAGE)
    except ValueError:
        per_page = DEFAULT_PER_PAGE
    cursor = call.args.get("cursor")
    records = [r for r in reversed(call.sim.sender.snapshot()) if _kept(call, r)]
    if cursor:
        try:
            below = int(cursor)
        except ValueError as exc:
            raise ApiError(422, "Invalid cursor") from exc
        records = [r for r in records if r.id < below]
    page = records[:per_page]
    headers = {}
    if len(records) > per_page:
        next_cursor = page[-1].id
        headers["Link"] = f'<{request.base_url}?per_page={per_page}&cursor={next_cursor}>; rel="next"'
    return Reply([item_json(r) for r in page], headers=headers)


def get_delivery(call: Call, delivery_id: int) -> Reply:
    found = _find(call, delivery_id)
    out = item_json(found)
    out["url"] = found.url or ""
    out["request"] = {"headers": dict(found.request_headers), "payload": found.payload}
    out["response"] = {"headers": dict(found.response_headers), "payload": found.response_body or None}
    return Reply(out)


def redeliver(call: Call, delivery_id: int) -> Reply:
    found = _find(call, delivery_id)
    call.sim.sender.redeliver(found)
    return Reply({}, status=202)


ROUTES = [
    Route("GET", "/app/hook/deliveries", list_deliveries, auth="jwt"),
    Route("GET", "/app/hook/deliveries/<int:delivery_id>", get_delivery, auth="jwt"),
    Route("POST", "/app/hook/deliveries/<int:delivery_id>/attempts", redeliver, auth="jwt", content=False),
]
