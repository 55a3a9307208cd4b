"""`mqttcloud apikey create --deployment ID [--permission METHOD:group ...] [--description NOTE]`.

Mints a deployment API key and prints `{"app_id": ..., "app_secret": ..., "deployment_id": ...}` once.
Wired into `control/apikey_cli.py` (the platform-key command) by `add_arguments` and `create`.
"""

import argparse
import json

from sqlalchemy.orm import Session

from mqttcloud.control.deployment_api.keys import service


def add_arguments(create: argparse.ArgumentParser) -> None:
    create.add_argument(
        "--deployment", help="mint a Deployment API key (App ID + App Secret) for this deployment id instead"
    )
    create.add_argument(
        "--permission",
        action="append",
        dest="permissions",
        help=(
            "with --deployment: allow METHOD:group only (repeatable; METHOD GET/POST/PUT/DELETE/*, group "
            f"{'/'.join(service.GROUPS)}/*); default: full access"
        ),
    )


def create(session: Session, args: argparse.Namespace) -> str:
    """Create the key and return the JSON line to print. Raises: ApiError (unknown deployment, ...)."""
    created = service.create_key(
        session, deployment_id=args.deployment, note=args.description or "", permissions=args.permissions
    )
    return json.dumps(
        {
            "app_id": created.key.app_id,
            "app_secret": created.secret,
            "deployment_id": created.key.deployment_id,
        }
    )
