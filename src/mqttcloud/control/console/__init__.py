"""The web console: server-rendered pages (Jinja2) over the same services the APIs use.

`mount_console(app)` adds the console's routes under `/console` and its static files under
`/console/static`, and sends `/`, `/login` and `/favicon.ico` there; `create_app` calls it once.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mqttcloud.control.config import Settings
from mqttcloud.control.console.pages import PREFIX, STATIC_DIR, ConsoleState
from mqttcloud.control.console.security import Signer, load_secret
from mqttcloud.control.db import Database


def mount_console(app: FastAPI, settings: Settings, database: Database) -> None:
    """Serve the console from `app` (its session secret lives in `settings.data_dir`)."""
    # Imported here: the route modules import this package's submodules.
    from mqttcloud.control.console import (  # noqa: PLC0415
        access_pages,
        acl_order_pages,
        audit_pages,
        client_pages,
        deployment_pages,
        edit_pages,
        integration_pages,
        live_pages,
        monitoring_pages,
        mqtt_client_pages,
        retained_pages,
        routes,
        shadow_pages,
        topic_metrics_pages,
        usage_pages,
        user_edit_pages,
    )

    app.state.console = ConsoleState(Signer(load_secret(settings.data_dir)), settings, database)
    for module in (
        routes,
        deployment_pages,
        access_pages,
        live_pages,
        shadow_pages,
        audit_pages,
        integration_pages,
        client_pages,
        user_edit_pages,
        edit_pages,
        acl_order_pages,
        retained_pages,
    ):
        app.include_router(module.router)
    app.include_router(monitoring_pages.router)
    app.include_router(mqtt_client_pages.router)
    app.include_router(usage_pages.router)
    app.include_router(topic_metrics_pages.router)
    app.include_router(routes.entry_router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")


__all__ = ["mount_console"]
