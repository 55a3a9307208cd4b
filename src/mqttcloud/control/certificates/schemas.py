"""TLS request and status objects with the exact field names of spec §2.1.1."""

from pydantic import BaseModel, ConfigDict, Field

from mqttcloud.control.certificates.models import TlsStatus, TlsType


class TlsUpload(BaseModel):
    """Body of POST and PUT: `cacert` is required for two-way TLS and refused for one-way."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    tls_type: TlsType = Field(alias="tlsType")
    cert: str = Field(
        min_length=1, max_length=256 * 1024, description="PEM certificate followed by its chain"
    )
    key: str = Field(min_length=1, max_length=64 * 1024, description="PEM private key, unencrypted")
    cacert: str | None = Field(default=None, max_length=256 * 1024, description="PEM client CA (two-way)")


class TlsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    expire: str = Field(description="certificate expiry, UTC, YYYY-MM-DD HH:MM:SS")
    status: TlsStatus
    tls_type: TlsType = Field(alias="tlsType")
    cn: str | None = Field(default=None, description="common name of the certificate (extension)")
