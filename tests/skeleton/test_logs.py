"""Logs: one line per event, JSON in production, with context and without secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest

from ghapp.logs import configure, log_context, redact

TOKEN = "ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjMiLCJleHAiOjE3fQ.c2lnbmF0dXJlLXBhcnQtaGVyZQ"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----"


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture(fmt: str) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    configure("DEBUG", fmt, stream=stream)
    return stream, logging.getLogger("ghapp.test")


def test_json_lines_carry_the_context():
    stream, log = _capture("json")
    with log_context(guid="d-1", task="t-1", workstream="ws-1"):
        log.info("synced %s", "ws-1")
    log.warning("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "synced ws-1"
    assert (first["guid"], first["task"], first["workstream"], first["level"]) == ("d-1", "t-1", "ws-1", "info")
    assert "guid" not in second


def test_pretty_lines_are_one_line_with_context():
    stream, log = _capture("pretty")
    with log_context(task="t-9"):
        log.info("hello")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("hello  [task=t-9]")


def test_secrets_are_redacted_whatever_logged_them():
    stream, log = _capture("json")
    log.info("token %s jwt %s", TOKEN, JWT)
    log.error("key %s", KEY)
    log.info("Authorization: Bearer %s", "sekrit-value")
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    for secret in (TOKEN, JWT, "MIIEowIBAAKCAQEAx", "sekrit-value"):
        assert secret not in text
    assert text.count("[redacted]") >= 5


def test_redact_leaves_ordinary_text_alone():
    assert redact("merged acme/api#12 at 3f2a9c1") == "merged acme/api#12 at 3f2a9c1"


def _tokens() -> dict[str, str]:
    """Both installation token formats, minted the way the simulator mints them."""
    from ghapp.testing.auth import installation_token

    return {
        fmt: installation_token(fmt, app_id=424242, installation_id=7, issued_at=1.7e9, expires_at=1.7e9 + 3600)
        for fmt in ("stateless", "classic")
    }


@pytest.mark.parametrize("fmt", ["stateless", "classic"])
@pytest.mark.parametrize("output", ["json", "pretty"])
def test_every_token_shape_is_redacted_whole(fmt: str, output: str) -> None:
    token = _tokens()[fmt]
    stream, log = _capture(output)
    log.info("minted %s for acme/app.", token)
    log.warning(f"GitHub refused token {token}: Bad credentials")
    try:
        raise RuntimeError(f"request with Authorization: token {token} failed")
    except RuntimeError:
        log.exception("boom %s", token)
    text = stream.getvalue()
    pieces = [token, *token.split("."), token[4:30]]
    for piece in pieces:
        assert piece not in text, f"a piece of the {fmt} token is left in the {output} log"
    assert "for acme/app." in text, "the sentence after the token is kept"


def test_redact_keeps_the_text_around_a_stateless_token() -> None:
    token = _tokens()["stateless"]
    assert redact(f"token={token}, repo=acme/app") == "token=[redacted], repo=acme/app"
    assert redact(f"({token}).") == "([redacted])."
