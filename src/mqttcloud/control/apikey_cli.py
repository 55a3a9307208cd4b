"""`mqttcloud apikey create|list|delete`: manage platform API keys from the command line, as root.

    mqttcloud apikey create --data-dir DIR --description D [--scope tls,deployments,projects] [--project ID]
    mqttcloud apikey list   --data-dir DIR
    mqttcloud apikey delete --data-dir DIR --key KEY
    mqttcloud apikey create --data-dir DIR --deployment ID [--permission GET:clients] [--description NOTE]

`create` prints `{"key": ..., "secret": ...}` (the only time the secret is shown). It works while
`mqttcloud serve` runs on the same folder: SQLite is in WAL mode and writers wait for each other.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mqttcloud.control import migrations
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.models import ALL_PROJECTS, Scope
from mqttcloud.control.api_keys.schemas import ApiKeyCreated, ApiKeyOut
from mqttcloud.control.audit.cli import record_command
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.keys import cli as deployment_keys_cli
from mqttcloud.control.errors import ApiError, ConfigError, NotFound


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mqttcloud apikey", description="Manage platform API keys.")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="mint a key and print it once as JSON")
    create.add_argument("--data-dir", type=Path, help="data folder of `mqttcloud serve`")
    create.add_argument("--description", help="required for platform keys; the note of a deployment key")
    deployment_keys_cli.add_arguments(create)  # Deployment API (P7): --deployment ID [--permission M:group]
    create.add_argument(
        "--scope",
        default=",".join(s.value for s in Scope),
        help="comma-separated functionality scopes: tls, deployments, projects (default: all)",
    )
    create.add_argument(
        "--project",
        action="append",
        dest="projects",
        help="project id the key may reach (repeatable; default: all)",
    )
    listing = sub.add_parser("list", help="list keys (never their secrets) as JSON")
    listing.add_argument("--data-dir", type=Path)
    delete = sub.add_parser("delete", help="delete a key")
    delete.add_argument("--data-dir", type=Path)
    delete.add_argument("--key", required=True)
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        settings = Settings.from_env(data_dir=args.data_dir)
    except ConfigError as exc:
        sys.stderr.write(f"mqttcloud apikey: {exc}\n")
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(settings.sqlalchemy_url)
    try:
        migrations.upgrade(database.engine)
        return _run(args, settings, database)
    finally:
        database.dispose()


def _run(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    """Run the command; `create` and `delete` leave an audit entry whatever their outcome."""
    audited = args.command in {"create", "delete"}
    shown = ("description", "scope", "projects", "deployment", "permissions", "key")
    arguments = {name: value for name, value in vars(args).items() if name in shown}
    target = ""
    try:
        with database.session() as session:
            root = accounts.ensure_root(session, password=settings.root_password)
            if root.generated_password is not None:
                sys.stderr.write(f"created root account: root / {root.generated_password} (shown once)\n")
            actor = root.account
            if args.command == "create" and args.deployment:  # Deployment API key (P7)
                printed = deployment_keys_cli.create(session, args)
                target = f"deployment_id={args.deployment} app_id={json.loads(printed)['app_id']}"
                sys.stdout.write(printed + "\n")
            elif args.command == "create":
                if not args.description:
                    sys.stderr.write("mqttcloud apikey: --description is required\n")
                    return 2
                scopes = [s.strip() for s in args.scope.split(",") if s.strip()]
                created = api_keys.create_key(
                    session,
                    actor=actor,
                    description=args.description,
                    scopes=scopes,
                    project_ids=args.projects or [ALL_PROJECTS],
                )
                target = f"key={created.api_key.key}"
                sys.stdout.write(
                    ApiKeyCreated(key=created.api_key.key, secret=created.secret).model_dump_json() + "\n"
                )
            elif args.command == "list":
                rows = [
                    ApiKeyOut.model_validate(k).model_dump(mode="json")
                    for k in api_keys.list_keys(session, actor=actor)
                ]
                sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            else:
                found = api_keys.find_by_key(session, key=args.key)
                target = f"key={args.key}"
                if found is None:
                    raise NotFound(f"no key {args.key!r}", code="KEY_NOT_FOUND")
                api_keys.delete_key(session, actor=actor, key_id=found.id)
    except ApiError as exc:
        sys.stderr.write(f"mqttcloud apikey: {exc.message}\n")
        if audited:
            record_command(
                database,
                command=f"apikey {args.command}",
                arguments=arguments,
                target=target,
                status=exc.status_code,
                error_code=exc.code,
            )
        return 1
    if audited:
        record_command(
            database, command=f"apikey {args.command}", arguments=arguments, target=target, status=200
        )
    return 0
