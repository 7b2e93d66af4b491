"""Run the simulator as its own process: ``python -m ghapp.testing --port 0 --webhook-url URL``.

It prints one JSON line with its URL and app credentials (the private key goes to ``--key-out``),
then serves until interrupted. Script people and CI through the ``/_sim`` admin API.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from ghapp.testing.config import SimulatorConfig
from ghapp.testing.server import GitHubSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghapp.testing", description="Serve a simulated GitHub.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--webhook-url", default=None, help="where webhook deliveries are POSTed")
    parser.add_argument("--webhook-secret", default=None)
    parser.add_argument("--app-id", type=int, default=None)
    parser.add_argument("--key-out", type=Path, default=None, help="write the app's private key (PEM) here")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--mergeability-delay",
        type=float,
        default=0.0,
        help="seconds mergeable stays null after a push, as while GitHub computes it (default 0)",
    )
    parser.add_argument(
        "--install",
        action="append",
        default=[],
        metavar="OWNER/REPO",
        help="install the app on this repository at start (repeatable)",
    )
    args = parser.parse_args(argv)

    config = SimulatorConfig(host=args.host, port=args.port, webhook_url=args.webhook_url, seed=args.seed)
    if args.mergeability_delay < 0:
        parser.error("--mergeability-delay cannot be negative")
    config.mergeability_delay_s = args.mergeability_delay
    if args.webhook_secret:
        config.webhook_secret = args.webhook_secret
    if args.app_id:
        config.app_id = args.app_id
    sim = GitHubSimulator(config).start()
    if args.key_out:
        args.key_out.write_text(sim.private_key_pem)
        args.key_out.chmod(0o600)
    installations = {}
    for full_name in args.install:
        owner, _, name = full_name.partition("/")
        installations[full_name] = sim.install(owner, [name])
    info = {
        "url": sim.url,
        "graphql_url": sim.url + "/graphql",
        "app_id": sim.app_id,
        "app_slug": config.app_slug,
        "webhook_secret": sim.webhook_secret,
        "webhook_url": sim.webhook_url,
        "key_file": str(args.key_out) if args.key_out else None,
        "installations": installations,
    }
    print(json.dumps(info), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
