"""``auditbridge webhook serve`` and ``auditbridge webhook check``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from auditbridge_generic_webhook.config import CONFIG_ENV, load_config, preset_names


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="webhook_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser("serve", help="run the intake on this machine (POST /<source>)")
    serve.add_argument("--port", type=int, default=8080, help="the port to listen on")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--config", default=os.environ.get(CONFIG_ENV), help=f"sources file (default ${CONFIG_ENV})")
    serve.add_argument(
        "--bus",
        default=os.environ.get("AUDITBRIDGE_WEBHOOK_BUS"),
        help="the EventBridge bus to put events on (default $AUDITBRIDGE_WEBHOOK_BUS)",
    )
    serve.set_defaults(run=run_serve)
    check = sub.add_parser("check", help="validate a sources file and list its sources")
    check.add_argument("config", help="the sources file (YAML or JSON)")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    for name, spec in sorted(config.sources.items()):
        scheme = spec.verification.scheme if spec.verification else "none (mapping only)"
        print(f"{name}: POST /{name} -> source {spec.event_source}, verification {scheme}")
    print(f"presets available: {', '.join(preset_names())}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from auditbridge.errors import ConfigurationError

    from auditbridge_generic_webhook.config import WebhookConfig, presets_config
    from auditbridge_generic_webhook.intake import EventBridgeForwarder, Intake
    from auditbridge_generic_webhook.server import WebhookServer

    if not args.config:
        raise ConfigurationError(
            f"--config or {CONFIG_ENV} is required: sources need a verification", code="MissingConfiguration"
        )
    if not args.bus:
        raise ConfigurationError("--bus or AUDITBRIDGE_WEBHOOK_BUS is required", code="MissingConfiguration")
    configured = load_config(args.config)
    config = WebhookConfig(sources={**presets_config().sources, **configured.sources})
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    server = WebhookServer(Intake(config, EventBridgeForwarder(args.bus)), args.host, args.port)
    print(
        f"webhook intake on {server.url}; sources: "
        + ", ".join(f"/{n}" for n, s in sorted(configured.sources.items()) if s.verification),
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
