"""The audit log: who changed what, from where, with what result, through any interface.

    actor.py        `Actor` and `attach(scope, actor)`: how the auth layers name a request's actor
    middleware.py   `AuditMiddleware`: records every write of the Platform API, Deployment API and console
    log.py          `AuditLog`: the bounded queue and its writer task (owned by the app's lifespan)
    cli.py          the CLI's own entries, written at once
    routes.py       GET /public_api/v1/audit_logs (the console page is console/audit_pages.py)

This module re-exports only the actor types: the auth layers import them, and the rest of this package
imports the auth layer.
"""

from mqttcloud.control.audit.actor import Actor, ActorKind, attach

__all__ = ["Actor", "ActorKind", "attach"]
