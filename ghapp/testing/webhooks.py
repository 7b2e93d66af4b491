"""Webhook deliveries: signing, a background sender thread, and the record GitHub keeps of each attempt."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ghapp.testing.faults import Faults
from ghapp.webhook_sender import signature_headers

HOOKSHOT_AGENT = "GitHub-Hookshot/5f1c3a9"
REORDER_WINDOW_S = 0.05


@dataclass
class Delivery:
    """One attempt to deliver an event (a redelivery is a new record with the same ``guid``)."""

    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    payload: dict[str, Any]
    body: bytes
    request_headers: dict[str, str]
    delivered_at: float
    redelivery: bool = False
    url: str | None = None
    status_code: int = 0
    status: str = "pending"
    delivered: bool = False
    duration: float = 0.0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


class WebhookSender:
    """Records deliveries and POSTs them from one background thread, applying webhook faults."""

    def __init__(
        self,
        *,
        secret: str,
        hook_id: int,
        app_id: int,
        url: Callable[[], str | None],
        timeout_s: Callable[[], float],
        faults: Faults,
        clock: Callable[[], float],
    ) -> None:
        self._secret = secret
        self._hook_id = hook_id
        self._app_id = app_id
        self._url = url
        self._timeout_s = timeout_s
        self._faults = faults
        self._clock = clock
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._next_id = 1
        self.records: list[Delivery] = []
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sim-webhook-sender", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        self._session.close()

    def _record(self, **kwargs: Any) -> Delivery:
        with self._lock:
            delivery = Delivery(id=self._next_id, **kwargs)
            self._next_id += 1
            self.records.append(delivery)
            self._pending += 1
        self._queue.put(delivery)
        return delivery

    def enqueue(
        self, event: str, payload: dict[str, Any], *, installation_id: int | None, repository_id: int | None
    ) -> Delivery:
        """Record a new delivery of ``event`` and queue it for sending."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        guid = str(uuid.uuid4())
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": HOOKSHOT_AGENT,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": str(self._hook_id),
            "X-GitHub-Hook-Installation-Target-ID": str(self._app_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            **signature_headers(self._secret, body),
        }
        return self._record(
            guid=guid,
            event=event,
            action=payload.get("action"),
            installation_id=installation_id,
            repository_id=repository_id,
            payload=payload,
            body=body,
            request_headers=headers,
            delivered_at=self._clock(),
        )

    def redeliver(self, original: Delivery) -> Delivery:
        """Send ``original`` again: same GUID and body, recorded as a redelivery."""
        return self._record(
            guid=original.guid,
            event=original.event,
            action=original.action,
            installation_id=original.installation_id,
            repository_id=original.repository_id,
            payload=original.payload,
            body=original.body,
            request_headers=dict(original.request_headers),
            delivered_at=self._clock(),
            redelivery=True,
        )

    def find(self, delivery_id: int) -> Delivery | None:
        with self._lock:
            if 1 <= delivery_id <= len(self.records):
                return self.records[delivery_id - 1]
        return None

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.records)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has been attempted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _finish(self, delivery: Delivery) -> None:
        delivery.done.set()
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            if self._faults.webhook_reorder:
                time.sleep(REORDER_WINDOW_S)
                while True:
                    try:
                        extra = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if extra is None:
                        self._queue.put(None)
                        break
                    batch.append(extra)
                self._faults.shuffle(batch)
            for delivery in batch:
                try:
                    self._attempt(delivery)
                finally:
                    self._finish(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        url = self._url()
        delivery.url = url
        if url is None:
            delivery.status = "No webhook URL configured"
            return
        if self._faults.roll(self._faults.webhook_drop_rate):
            delivery.status = "Delivery dropped"
            return
        copies = 2 if self._faults.roll(self._faults.webhook_duplicate_rate) else 1
        for _ in range(copies):
            self._post(delivery, url)

    def _post(self, delivery: Delivery, url: str) -> None:
        started = time.monotonic()
        try:
            response = self._session.post(
                url, data=delivery.body, headers=delivery.request_headers, timeout=self._timeout_s()
            )
        except requests.Timeout:
            delivery.status_code = 0
            delivery.status = "timed out"
            delivery.delivered = False
        except requests.RequestException as exc:
            delivery.status_code = 0
            delivery.status = f"Failed to connect to host: {type(exc).__name__}"
            delivery.delivered = False
        else:
            delivery.status_code = response.status_code
            delivery.delivered = 200 <= response.status_code < 300
            delivery.status = "OK" if delivery.delivered else f"Invalid HTTP Response: {response.status_code}"
            delivery.response_headers = dict(response.headers)
            delivery.response_body = response.text[:10000]
        delivery.duration = round(time.monotonic() - started, 3)
