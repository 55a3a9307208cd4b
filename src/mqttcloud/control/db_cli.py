"""`mqttcloud db upgrade [--data-dir DIR]`: apply the database migrations and print the revision."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mqttcloud.control import migrations
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.errors import ConfigError


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="mqttcloud db", description="Database maintenance.")
    sub = parser.add_subparsers(dest="command", required=True)
    upgrade = sub.add_parser(
        "upgrade", help="apply every migration (MQTTCLOUD_DATABASE_URL or the data folder)"
    )
    upgrade.add_argument("--data-dir", type=Path)
    args = parser.parse_args(list(argv))
    try:
        settings = Settings.from_env(data_dir=args.data_dir)
    except ConfigError as exc:
        sys.stderr.write(f"mqttcloud db: {exc}\n")
        return 2
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(settings.sqlalchemy_url)
    try:
        migrations.upgrade(database.engine)
        sys.stdout.write(f"database at revision {migrations.current_revision(database.engine)}\n")
    finally:
        database.dispose()
    return 0
