# ruff: noqa: S603, S607, S105, T201  (a developer tool: argv lists only, a throw-away root password, it prints where it saved)
"""Take the README's console screenshots (docs/images/) from a real platform, with Debian's chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/images]

Starts `mqttcloud serve` on a free port with a throw-away data folder, creates a deployment with an MQTT
user through the APIs, connects a subscriber with `mosquitto_sub` so the pages show live data, signs in
to the console as root with Playwright, and saves `console-overview.png` (a deployment's overview with
its getting-started commands) and `console-clients.png` (its connected clients), at 1366 px wide.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ROOT_PASSWORD = "screenshots-root-password"
MQTT_USER, MQTT_PASSWORD = "sensor-1", "correct-horse-42"
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}


def start_serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """A running `serve` and its base URL, read from its banner."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTTCLOUD_")}
    env.update(MQTTCLOUD_ROOT_PASSWORD=ROOT_PASSWORD, MQTTCLOUD_BROKER_PORTS="24100-24199")
    process = subprocess.Popen(
        [sys.executable, "-m", "mqttcloud", "serve", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if match := re.search(r"Platform API:\s+(https://[^/\s]+)/public_api/v1", line):
            return process, match.group(1)
    raise SystemExit("mqttcloud serve did not start")


def cli(data_dir: Path, *args: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "mqttcloud", "apikey", "create", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    printed: dict[str, str] = json.loads(result.stdout)
    return printed


def prepare(base: str, data_dir: Path) -> tuple[str, str]:
    """A running deployment with an MQTT user; its id and MQTT address ("host:port")."""
    key = cli(data_dir, "--description", "screenshots")
    auth = (key["key"], key["secret"])
    with httpx.Client(base_url=base, verify=str(data_dir / "pki" / "ca.pem"), timeout=10) as client:
        created = client.post(
            "/public_api/v1/deployments",
            json={"projectID": "default", "deploymentName": "factory-floor"},
            auth=auth,
        )
        created.raise_for_status()
        deployment: str = created.json()["deploymentID"]
        for _ in range(120):
            view = client.get(f"/public_api/v1/deployments/{deployment}", auth=auth).json()
            if view["status"] == "running":
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"deployment {deployment} is {view['status']}")
        app = cli(data_dir, "--deployment", deployment)
        client.post(
            "/api/v5/authentication/password_based:built_in_database/users",
            json={"user_id": MQTT_USER, "password": MQTT_PASSWORD},
            auth=(app["app_id"], app["app_secret"]),
        ).raise_for_status()
    address: str = view["endpoints"]["mqtt"]
    return deployment, address


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mqttcloud-screenshots-") as folder:
        data_dir = Path(folder) / "data"
        serve, base = start_serve(data_dir)
        subscribers: list[subprocess.Popen[bytes]] = []
        try:
            deployment, address = prepare(base, data_dir)
            host, port = address.rsplit(":", 1)
            for client_id in ("line-3-press", "line-3-robot"):
                subscribers.append(
                    subprocess.Popen(
                        ["mosquitto_sub", "-h", host, "-p", port, "-u", MQTT_USER, "-P", MQTT_PASSWORD,
                         "-i", client_id, "-q", "1", "-t", "factory/line-3/#"],
                        stdout=subprocess.DEVNULL,
                    )
                )  # fmt: skip
            time.sleep(1.0)
            console = f"{base}/console"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport=VIEWPORT, ignore_https_errors=True, locale="en-US")
                page.goto(f"{console}/login")
                page.fill("#username", "root")
                page.fill("#password", ROOT_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(re.compile(r".*/console/deployments.*"))
                page.goto(f"{console}/deployments/{deployment}")
                page.screenshot(path=str(out / "console-overview.png"), full_page=True)
                page.goto(f"{console}/deployments/{deployment}/clients")
                page.wait_for_selector("text=line-3-robot")
                page.screenshot(path=str(out / "console-clients.png"))
                browser.close()
        finally:
            for subscriber in subscribers:
                subscriber.terminate()
                subscriber.wait()
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)
    print(f"saved {out / 'console-overview.png'} and {out / 'console-clients.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
