"""TLS certificate use cases: read, upload (create / replace), delete, and "the broker serves it now".

Uploads are validated by `certificates.validation.validate_tls_upload` (a failure is a 422 naming the
rule) and stored `pending`; the broker runtime marks them `running` once the deployment's broker runs a
spec with exactly this certificate. Uploading the material already installed changes nothing (a running
certificate stays running: no new spec would ever be applied to mark it again). Serverless deployments
use the platform's certificate: custom TLS is refused there (spec §1.10, "custom TLS not supported").

Rule: the private key is stored sealed (`at_rest.SecretBox`); it is opened only by `spec_builder`.
"""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.control.at_rest import SecretBox, is_sealed
from mqttcloud.control.certificates.models import Certificate, TlsStatus, TlsType
from mqttcloud.control.certificates.schemas import TlsOut, TlsUpload
from mqttcloud.control.certificates.validation import CertificateRejected, ValidatedTls, validate_tls_upload
from mqttcloud.control.db import utcnow
from mqttcloud.control.deployments.models import Deployment
from mqttcloud.control.errors import Conflict, Invalid, NotFound


def format_expire(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def to_schema(certificate: Certificate) -> TlsOut:
    return TlsOut(
        expire=format_expire(certificate.expire_at),
        status=certificate.status,
        tls_type=certificate.tls_type,
        cn=certificate.common_name,
    )


def get_certificate(session: Session, *, deployment_id: str) -> Certificate:
    certificate = session.get(Certificate, deployment_id)
    if certificate is None:
        raise NotFound(f"Deployment {deployment_id} has no TLS certificate", code="TLS_NOT_FOUND")
    return certificate


def certificates_by_deployment(session: Session) -> dict[str, Certificate]:
    return {c.deployment_id: c for c in session.scalars(select(Certificate))}


def upload(
    session: Session,
    *,
    deployment: Deployment,
    request: TlsUpload,
    replace: bool,
    box: SecretBox,
    now: dt.datetime | None = None,
) -> Certificate:
    """Validate and store a certificate (`replace=False`: POST, `True`: PUT); it starts `pending`.

    The key is sealed with `box`. Re-uploading exactly the installed certificate, key and CA keeps its
    status (a running one stays running).

    Raises:
        Invalid: Serverless deployment, or the certificate breaks a rule (code INVALID_CERTIFICATE).
        Conflict: POST while a certificate is installed (use PUT).
        NotFound: PUT while none is installed (use POST).
    """
    if deployment.deployment_type.is_serverless:
        raise Invalid(
            "Serverless deployments do not support custom TLS certificates", code="TLS_NOT_SUPPORTED"
        )
    existing = session.get(Certificate, deployment.id)
    if existing is not None and not replace:
        raise Conflict(
            f"Deployment {deployment.id} already has a TLS certificate; replace it with PUT",
            code="TLS_EXISTS",
        )
    if existing is None and replace:
        raise NotFound(
            f"Deployment {deployment.id} has no TLS certificate; upload one with POST", code="TLS_NOT_FOUND"
        )
    try:
        valid = validate_tls_upload(
            tls_type=request.tls_type.value,
            cert_pem=request.cert,
            key_pem=request.key,
            cacert_pem=request.cacert,
            now=now or utcnow(),
        )
    except CertificateRejected as rejected:
        rejected.code = "INVALID_CERTIFICATE"
        raise
    if existing is not None and _is_installed(existing, valid, box):
        session.commit()  # ends the transaction (SQLite's write lock) like any write
        return existing
    certificate = existing or Certificate(deployment_id=deployment.id, created_at=utcnow())
    certificate.tls_type = TlsType(valid.tls_type)
    certificate.cert_pem = valid.cert_pem
    certificate.key_pem = box.seal(valid.key_pem)
    certificate.ca_pem = valid.cacert_pem
    certificate.expire_at = valid.not_after
    certificate.common_name = valid.cn
    certificate.status = TlsStatus.PENDING
    certificate.updated_at = utcnow()
    if existing is None:
        session.add(certificate)
    session.commit()
    return certificate


def _is_installed(existing: Certificate, valid: ValidatedTls, box: SecretBox) -> bool:
    return (
        existing.tls_type.value == valid.tls_type
        and existing.cert_pem == valid.cert_pem
        and existing.ca_pem == valid.cacert_pem
        and box.open(existing.key_pem) == valid.key_pem
    )


def seal_plain_keys(session: Session, *, box: SecretBox) -> int:
    """Seal the private keys stored in plain text (before sealing existed); returns how many."""
    sealed = 0
    for certificate in session.scalars(select(Certificate)):
        if not is_sealed(certificate.key_pem):
            certificate.key_pem = box.seal(certificate.key_pem)
            sealed += 1
    session.commit()
    return sealed


def delete(session: Session, *, deployment_id: str) -> None:
    """Remove the certificate; the next reconcile closes the deployment's TLS listeners."""
    certificate = get_certificate(session, deployment_id=deployment_id)
    session.delete(certificate)
    session.commit()


def mark_served(session: Session, *, deployment_id: str, cert_pem: str | None) -> None:
    """The broker now serves `cert_pem` (None: no certificate): a matching certificate becomes running."""
    certificate = session.get(Certificate, deployment_id)
    if certificate is None or cert_pem is None:
        return
    if certificate.cert_pem == cert_pem and certificate.status is not TlsStatus.RUNNING:
        certificate.status = TlsStatus.RUNNING
        session.commit()
