"""schemathesis against the pod API as ``/api/openapi.json`` describes it, over real HTTP.

Every generated request is signed like the pod signs (a fresh timestamp and
the HMAC of the exact bytes sent), so the checks reach past authentication;
schemathesis's own probes remove or forge the credentials to check that
authentication is enforced.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks

from fuzz.conftest import FUZZ, POD_SECRET
from ghapp.pod.signing import sign

EXCLUDED_CHECKS = [
    # A schema-valid event can still be refused by the task's rules, by design: naming a workstream the task
    # does not have, a dependency cycle, or a task that is finished is a 422 or a 409 (documented responses),
    # so "schema-valid data must be accepted" does not hold for this API.
    checks.positive_data_acceptance,
]


PER_OPERATION = settings(FUZZ, max_examples=60)


class PodSigner(requests.auth.AuthBase):
    """Signs the prepared request's exact body (an empty one for reads) with the pod secret, now.

    ``enabled`` is turned off for a case whose headers schemathesis generated as invalid: the only
    headers this API declares are the two signature headers, so such a case stands for a request
    without valid credentials and must go out unsigned (and be refused).
    """

    enabled = True

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        if not self.enabled:
            return prepared
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        prepared.headers.update(sign(POD_SECRET, body))
        return prepared


def _seed_task(base_url: str) -> None:
    """One task with a workstream, so the reads have something to return."""
    for document in (
        {"type": "task_created", "actor_id": "pod", "data": {"title": "seed"}},
        {"type": "workstream_created", "actor_id": "pod", "data": {"workstream_id": "api", "spec": "Do it",
                                                                   "repo": "octo/api", "branch": "main",
                                                                   "dependencies": []}},
    ):
        body = json.dumps(document).encode()
        response = requests.post(
            f"{base_url}/api/tasks/seed/events",
            data=body,
            headers={"Content-Type": "application/json", **sign(POD_SECRET, body)},
            timeout=30,
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_pod_api_conforms_to_its_openapi_description(fuzz_server, fuzz_runtime, mode):
    _seed_task(fuzz_server)
    schema = schemathesis.openapi.from_url(fuzz_server + "/api/openapi.json")
    signer = PodSigner()
    schema.auth.set_from_requests(signer)
    seen: dict[str, set[int]] = {}

    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            @PER_OPERATION
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                signer.enabled = case.meta is None or not case.meta.is_negative_at(ParameterLocation.HEADER)
                response = case.call_and_validate(session=session, excluded_checks=EXCLUDED_CHECKS)
                assert response.status_code < 500, (response.status_code, response.text[:300])
                seen.setdefault(case.operation.label, set()).add(response.status_code)
                if not signer.enabled:
                    assert response.status_code == 401, response.text[:300]

            run()

    # Every operation was exercised (schemathesis leaves out the one serving the description it loaded).
    assert set(seen) == {
        "POST /api/tasks/{task_id}/events",
        "GET /api/tasks/{task_id}/events",
        "GET /api/tasks/{task_id}",
        "GET /api/tasks",
    }, seen
    if mode is GenerationMode.NEGATIVE:
        # Invalid events were generated and refused as such.
        assert seen["POST /api/tasks/{task_id}/events"] & {400, 422}, seen
