"""The platform's own TLS material, issued by the platform CA (`control/pki.py`, `<data-dir>/pki`).

- The HTTPS certificate of `mqttcloud serve` (written to `<data-dir>/tls/`, key 0600).
- The Serverless broker's wildcard certificate `*.<serverless domain>` (kept in memory, handed over in
  the BrokerSpec). Clients trust both through `<data-dir>/pki/ca.pem`.

Certificates are issued afresh at every start: they are cheap (EC P-256), and only the CA must persist.
"""

import os
from collections.abc import Sequence
from pathlib import Path

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.config import Settings
from mqttcloud.control.pki import CertificateAuthority, load_or_create_ca


def platform_ca(settings: Settings) -> CertificateAuthority:
    return load_or_create_ca(settings.data_dir / "pki")


def serverless_tls(settings: Settings) -> TlsSpec:
    """Server certificate of the shared Serverless broker: `*.<domain>` and `<domain>`."""
    domain = settings.serverless_domain
    cert_pem, key_pem = platform_ca(settings).issue_server_cert([f"*.{domain}", domain])
    return TlsSpec(cert_pem=cert_pem, key_pem=key_pem)


def write_https_certificate(settings: Settings, hosts: Sequence[str]) -> tuple[Path, Path]:
    """Issue the HTTPS certificate for `hosts` and write it; return (certificate path, key path)."""
    cert_pem, key_pem = platform_ca(settings).issue_server_cert(list(dict.fromkeys(hosts)))
    directory = settings.data_dir / "tls"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_text(cert_pem)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(key_pem)
    return cert_path, key_path
