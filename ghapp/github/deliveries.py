"""The app's webhook delivery log: list deliveries and ask GitHub to send one again.

GitHub never redelivers a failed delivery by itself. The redelivery job
lists recent deliveries (``GET /app/hook/deliveries``, newest first, cursor
pagination through ``Link``), finds those that failed and that ghapp never
stored, and asks for each again (``POST /app/hook/deliveries/{id}/attempts``,
answered ``202 Accepted``). Both calls authenticate with the app JWT. A
redelivery keeps the original GUID, so ghapp's inbox deduplicates it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ghapp.github.client import GitHubClient


@dataclass(frozen=True)
class HookDelivery:
    """One entry of the delivery log."""

    id: int
    guid: str
    delivered_at: datetime | None
    redelivery: bool
    status: str
    status_code: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None

    @property
    def succeeded(self) -> bool:
        """GitHub got a 2xx from ghapp for this attempt."""
        return 200 <= self.status_code < 300

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HookDelivery:
        delivered = data.get("delivered_at")
        return cls(
            id=int(data["id"]),
            guid=str(data.get("guid") or ""),
            delivered_at=datetime.fromisoformat(str(delivered).replace("Z", "+00:00")) if delivered else None,
            redelivery=bool(data.get("redelivery")),
            status=str(data.get("status") or ""),
            status_code=int(data.get("status_code") or 0),
            event=str(data.get("event") or ""),
            action=data.get("action"),
            installation_id=data.get("installation_id"),
            repository_id=data.get("repository_id"),
        )


class HookDeliveries:
    """The delivery log of the app's webhook."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def list_deliveries(self, since: datetime | None = None, per_page: int = 100) -> Iterator[HookDelivery]:
        """Deliveries newest first; stops at the first one older than ``since`` (timezone-aware)."""
        for item in self.client.app_pages("/app/hook/deliveries", params={"per_page": per_page}):
            delivery = HookDelivery.from_api(item)
            if since is not None and delivery.delivered_at is not None and delivery.delivered_at < since:
                return
            yield delivery

    def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send the delivery again (a new attempt with the same GUID)."""
        self.client.app_request("POST", f"/app/hook/deliveries/{int(delivery_id)}/attempts", paced=True)
