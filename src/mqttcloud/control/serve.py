"""`mqttcloud serve`: run the platform (console, Platform API, Deployment API) on one HTTPS listener.

    mqttcloud serve [--data-dir DIR] [--host H] [--port P] [--http]
                    [--public-host NAME] [--broker-ports LOW-HIGH] [--log-format text|json]

Start-up order: settings → logging (`--log-format` or MQTTCLOUD_LOG_FORMAT; the brokers it starts log
the same way) → private data folder (umask 077; folders 0700, files 0600) and its data key → database
migrations → root account (its password is printed once, unless MQTTCLOUD_ROOT_PASSWORD gave it) → HTTPS
certificate from the platform CA (`--http` serves plain HTTP for a TLS-terminating proxy) → bind →
uvicorn (whose lifespan brings every desired-running deployment back) → print where everything listens.
`--port 0` picks a free port; the banner shows the real one.

Rules: the listening socket is never inheritable, so brokers never hold it: after a kill -9 of `serve`,
the brokers it leaves running (which the next `serve` adopts or stops) do not keep its port. uvicorn's
proxy headers are off: the peer address reaches our code as the TCP peer, whatever X-Forwarded-For says.
"""

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from mqttcloud import compiled, logs
from mqttcloud.control import migrations
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts.models import ROOT_USERNAME
from mqttcloud.control.app import OPENAPI_URL, PLATFORM_API_PREFIX, create_app
from mqttcloud.control.at_rest import PRIVATE_UMASK, SecretBox, secure_data_dir
from mqttcloud.control.config import Settings, parse_port_range
from mqttcloud.control.db import Database
from mqttcloud.control.errors import ApiError, ConfigError
from mqttcloud.control.pki import PkiError
from mqttcloud.control.platform_tls import platform_ca, write_https_certificate

logger = logging.getLogger(__name__)

_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104  (values to compare against, not to bind)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mqttcloud serve", description="Run the mqttcloud platform.")
    parser.add_argument("--data-dir", type=Path, help="data folder (default ./mqttcloud-data)")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8443; 0 = any free port)")
    parser.add_argument("--http", action="store_true", help="plain HTTP (behind a TLS-terminating proxy)")
    parser.add_argument("--public-host", help="host name shown in URLs and deployment endpoints")
    parser.add_argument("--broker-ports", help="port range for broker listeners, LOW-HIGH")
    parser.add_argument(
        "--log-format", choices=logs.LOG_FORMATS, help="text (default) or json: one object per line"
    )
    return parser


def _settings(argv: Sequence[str]) -> Settings:
    args = _parser().parse_args(list(argv))
    low, high = parse_port_range(args.broker_ports) if args.broker_ports else (None, None)
    return Settings.from_env(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        use_tls=False if args.http else None,
        public_host=args.public_host,
        broker_port_low=low,
        broker_port_high=high,
        log_format=args.log_format,
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _url_host(settings: Settings) -> str:
    host = settings.public_host or ("127.0.0.1" if settings.host in _WILDCARDS else settings.host)
    return f"[{host}]" if ":" in host else host


def _banner(settings: Settings, port: int, root_line: str) -> str:
    scheme = "https" if settings.use_tls else "http"
    base = f"{scheme}://{_url_host(settings)}:{port}"
    lines = [
        "mqttcloud is running",
        f"  Console:         {base}/console/",
        f"  Platform API:    {base}{PLATFORM_API_PREFIX}   (OpenAPI: {base}{OPENAPI_URL})",
        f"  Deployment API:  {base}/api/v5   and   {base}/api   (v4)",
        f"  Root login:      {root_line}",
        f"  Data folder:     {settings.data_dir.resolve()}",
        f"  Broker core:     {_core_line()}",
    ]
    if settings.use_tls:
        lines.append(f"  Platform CA:     {(settings.data_dir / 'pki' / 'ca.pem').resolve()}   (trust this)")
    return "\n".join(lines) + "\n"


def _core_line() -> str:
    """What the brokers `serve` starts will run (`mqttcloud compile` builds the compiled core)."""
    try:
        status, _files = compiled.decide()
    except compiled.CoreError as exc:
        return f"none: brokers will not start ({exc})"
    return f"{status.kind} ({status.reason})"


class _Server(uvicorn.Server):
    """uvicorn's server, printing the banner once the lifespan has started and the socket listens."""

    def __init__(self, config: uvicorn.Config, banner: str):
        super().__init__(config)
        self.banner = banner

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM start a graceful shutdown and `serve` exits 0 (uvicorn would re-raise them)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # Everything alive now (modules, app, routes, models: ~150,000 objects) lives until exit: out
            # of the cyclic GC's reach, a full collection no longer walks it on the event loop (tens of
            # ms each, about every second under load: the Platform API's p99 at 32 connections).
            gc.collect()
            gc.freeze()
            sys.stdout.write(self.banner)
            sys.stdout.flush()


def main(argv: Sequence[str]) -> int:
    try:
        settings = _settings(argv)
        logs.setup(logging.INFO, settings.log_format)
        os.umask(PRIVATE_UMASK)  # the database, its WAL, logs and brokers' files: owner only
        secure_data_dir(settings.data_dir)
        SecretBox.for_settings(settings)  # a bad MQTTCLOUD_SECRET_KEY stops the start here
    except (ConfigError, OSError) as exc:
        sys.stderr.write(f"mqttcloud serve: {exc}\n")
        return 2

    database = Database.from_url(settings.sqlalchemy_url)
    try:
        migrations.upgrade(database.engine)
        with database.session() as session:
            root = accounts.ensure_root(session, password=settings.root_password)
    except ApiError as exc:  # e.g. MQTTCLOUD_ROOT_PASSWORD too short
        sys.stderr.write(f"mqttcloud serve: {exc.message}\n")
        return 2
    finally:
        database.dispose()
    if root.generated_password is not None:
        root_line = f"{ROOT_USERNAME} / {root.generated_password}   (shown once: store it now)"
    elif root.created:
        root_line = f"{ROOT_USERNAME} / the password in MQTTCLOUD_ROOT_PASSWORD"
    else:
        root_line = f"{ROOT_USERNAME} (password set at first start)"

    certfile = keyfile = None
    try:
        if settings.use_tls:
            names = (settings.public_host, settings.host, "localhost", "127.0.0.1")
            cert_path, key_path = write_https_certificate(
                settings, [h for h in names if h and h not in _WILDCARDS]
            )
            certfile, keyfile = str(cert_path), str(key_path)
        else:
            platform_ca(settings)  # Serverless brokers need it even without HTTPS
        sock = _bind(settings.host, settings.port)
    except (OSError, PkiError, ValueError) as exc:
        sys.stderr.write(f"mqttcloud serve: {exc}\n")
        return 1
    port = int(sock.getsockname()[1])

    config = uvicorn.Config(
        create_app(settings),
        log_config=None,  # uvicorn's own lines go through our handler, in the chosen format
        log_level="warning",
        access_log=False,  # request lines come from control/request_ids.py, with their id
        lifespan="on",
        timeout_graceful_shutdown=5,
        # uvicorn's default rewrites the client address from X-Forwarded-For sent by 127.0.0.1 before our
        # code sees it; MQTTCLOUD_TRUSTED_PROXIES (console/security.py `client_address`) is the only rule.
        proxy_headers=False,
        forwarded_allow_ips="",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = _Server(config, _banner(settings, port, root_line))
    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0
