"""Who made a request, as the auth layer learnt it: attached to the ASGI scope for the audit middleware.

Each surface's authentication sets it where it knows the answer (platform keys in `control/auth.py`,
deployment keys in `deployment_api/auth.py`, console sessions in `console/pages.py`, sign-in attempts in
`console/routes.py`). Rule: an actor is an id (key id, App ID, user name), never a secret.
"""

from collections.abc import MutableMapping
from dataclasses import dataclass
from enum import StrEnum

from mqttcloud import logs

SCOPE_KEY = "mqttcloud.audit_actor"


class ActorKind(StrEnum):
    PLATFORM_KEY = "platform_key"
    DEPLOYMENT_KEY = "deployment_key"
    ACCOUNT = "account"
    ANONYMOUS = "anonymous"
    SYSTEM = "system"  # the platform acting on its own (the Serverless lifecycle policy)


class Interface(StrEnum):
    PLATFORM_API = "platform_api"
    DEPLOYMENT_API = "deployment_api"
    CONSOLE = "console"
    CLI = "cli"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    authenticated: bool = True  # False: the id was presented (a key id, a user name) but not verified


ANONYMOUS = Actor(ActorKind.ANONYMOUS, "", authenticated=False)


def attach(scope: MutableMapping[str, object], actor: Actor) -> None:
    """Record the request's actor (the latest call wins: a verified actor replaces a presented one)."""
    scope[SCOPE_KEY] = actor
    logs.actor.set(f"{actor.kind.value}:{actor.id}")  # carried to the broker in the admin requests it causes


def attached(scope: MutableMapping[str, object]) -> Actor | None:
    actor = scope.get(SCOPE_KEY)
    return actor if isinstance(actor, Actor) else None
