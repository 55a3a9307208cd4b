"""Download of the CA that signs the shared Serverless broker's certificate (EMQX's `emqxsl-ca.crt`).

Serverless clients verify the wildcard server certificate `*.<serverless domain>` against this CA, so
it is public, as EMQX serves its `emqxsl-ca.crt` publicly: no key is needed. Two addresses serve it:

- `GET /public_api/v1/serverless/emqxsl-ca.crt` for API users and scripts;
- `GET /emqxsl-ca.crt` for the console's download link (the console lives under `/console`).

The file is `<data-dir>/pki/ca.pem`, written when the platform CA is created (`control/pki.py`); this
module only reads it, never creates a CA. Before that (a database-only setup) the answer is 404.
"""

import asyncio
from pathlib import Path

from fastapi import APIRouter, FastAPI, Response

from mqttcloud.control.config import Settings
from mqttcloud.control.deps import SettingsDep
from mqttcloud.control.errors import NotFound, error_responses
from mqttcloud.control.pki import CA_CERT_FILE

CA_FILENAME = "emqxsl-ca.crt"
API_PATH = f"/public_api/v1/serverless/{CA_FILENAME}"
CONSOLE_PATH = f"/{CA_FILENAME}"
_MEDIA_TYPE = "application/x-pem-file"

router = APIRouter(tags=["serverless"])


def ca_path(settings: Settings) -> Path:
    return settings.data_dir / "pki" / CA_CERT_FILE


def read_ca(settings: Settings) -> str:
    """The platform CA certificate (PEM). Raises: NotFound when no CA has been created yet."""
    try:
        return ca_path(settings).read_text()
    except FileNotFoundError:
        raise NotFound("the platform CA has not been created yet", code="CA_NOT_FOUND") from None


async def _ca_response(settings: Settings) -> Response:
    pem = await asyncio.to_thread(read_ca, settings)
    return Response(
        content=pem,
        media_type=_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{CA_FILENAME}"'},
    )


@router.get(API_PATH, response_class=Response, responses=error_responses(404))
async def download_ca(settings: SettingsDep) -> Response:
    """The CA certificate Serverless clients trust (PEM, `emqxsl-ca.crt`); public, no key needed."""
    return await _ca_response(settings)


@router.get(CONSOLE_PATH, response_class=Response, include_in_schema=False)
async def download_ca_for_console(settings: SettingsDep) -> Response:
    return await _ca_response(settings)


def install(app: FastAPI) -> None:
    """Add the CA download routes (one call in `control/app.py`)."""
    app.include_router(router)
