"""Server TLS for the TLS and WSS listeners: contexts built from PEM text, swapped live, SNI recorded.

Each TLS/WSS listener owns a *front* `SSLContext` whose `sni_callback` runs at the start of every
handshake (OpenSSL calls it with or without an SNI extension). The callback

1. swaps in the *current* context (`TlsMaterial.context`), so a new certificate applies to the next
   handshake while connected clients keep the session they negotiated; and
2. records the SNI host name for the connection (`peer_sni`); on an SNI-selecting listener a name that
   selects no tenant is logged here and refused at CONNECT (`runtime.sni_refusal` says why not here).

Rules this module must not break:
- Private keys never touch the log, and only touch disk inside a private (0700) temporary directory for
  the one `load_cert_chain` call that needs file paths; the files are removed right after.
- `SSLObject.context = ...` keeps the verify mode of the front context, so the front context's
  `verify_mode` follows the TLS mode (two-way = CERT_REQUIRED) and is updated on every swap.
"""

import logging
import os
import ssl
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from mqttcloud.contracts import TlsMode, TlsSpec

log = logging.getLogger(__name__)

# SNI host name per in-flight/established TLS object (weak: entries go with the connection).
_SNI: "weakref.WeakKeyDictionary[ssl.SSLObject, str]" = weakref.WeakKeyDictionary()


def build_context(spec: TlsSpec) -> ssl.SSLContext:
    """A server context for `spec`: TLS 1.2+, the certificate chain and key, the client CA for two-way.

    Raises:
        ssl.SSLError / ValueError: the PEM material is unusable (the control plane validates uploads, so
            this means a bug or a hand-written spec).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="mqttcloud-tls-") as tmp:
        os.chmod(tmp, 0o700)
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(spec.key_pem)
        with open(cert_path, "w") as f:
            f.write(spec.cert_pem)
        ctx.load_cert_chain(cert_path, key_path)
    if spec.mode is TlsMode.TWO_WAY:
        if not spec.ca_pem:
            raise ValueError("two-way TLS needs ca_pem")
        ctx.load_verify_locations(cadata=spec.ca_pem)
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif spec.ca_pem:
        # One-way with a CA: ask for a certificate but do not require one.
        ctx.load_verify_locations(cadata=spec.ca_pem)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


@dataclass(slots=True)
class TlsMaterial:
    """The TLS spec in force and its context; shared by every TLS/WSS listener of the process."""

    spec: TlsSpec
    context: ssl.SSLContext

    @classmethod
    def from_spec(cls, spec: TlsSpec) -> "TlsMaterial":
        return cls(spec=spec, context=build_context(spec))

    def update(self, spec: TlsSpec) -> bool:
        """Swap in `spec` for new handshakes. Returns whether anything changed."""
        if spec == self.spec:
            return False
        self.context = build_context(spec)
        self.spec = spec
        return True


SniCheck = Callable[[str | None], bool]


def front_context(material: TlsMaterial, sni_check: SniCheck | None) -> ssl.SSLContext:
    """The context a listener is created with; every handshake is handed over to `material.context`.

    Args:
        material: the shared, swappable TLS material.
        sni_check: for SNI-selecting listeners, whether a host name selects a tenant; a name for which it
            answers False is logged (the connection is refused at CONNECT, `runtime.sni_refusal`).
    """
    front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    front.minimum_version = ssl.TLSVersion.TLSv1_2
    # No certificate here on purpose: OpenSSL runs the servername callback for every ClientHello (with
    # server_name None when the client sent no SNI), and the callback installs the real context.
    _copy_verify_mode(front, material)

    def on_sni(
        sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext
    ) -> int | None:
        if server_name is not None and isinstance(sslobj, ssl.SSLObject):
            _SNI[sslobj] = server_name
        if sni_check is not None and not sni_check(server_name):
            # No `unrecognized_name` alert: asyncio/uvloop close a failed handshake without sending
            # OpenSSL's alert (the client sees a bare EOF), so the connection is refused at CONNECT with
            # a reason instead (runtime.sni_refusal).
            log.info("TLS SNI %r selects no tenant; it will be refused at CONNECT", server_name)
        _copy_verify_mode(front, material)
        sslobj.context = material.context
        return None

    front.sni_callback = on_sni
    return front


def _copy_verify_mode(front: ssl.SSLContext, material: TlsMaterial) -> None:
    mode = material.context.verify_mode
    if front.verify_mode != mode:
        front.verify_mode = mode


def refresh_front(front: ssl.SSLContext, material: TlsMaterial) -> None:
    """Align a front context's verify mode after a swap (new SSL objects copy it at creation)."""
    _copy_verify_mode(front, material)


def peer_sni(sslobj: object) -> str | None:
    """The SNI host name the client sent on this TLS connection, if any."""
    if isinstance(sslobj, ssl.SSLObject):
        return _SNI.get(sslobj)
    return None


def peer_names(peercert: object) -> tuple[str | None, str | None]:
    """(CN, DN) of a verified client certificate as returned by `getpeercert()`; (None, None) if absent.

    The DN is written RFC 4514 style, most specific first (e.g. "CN=dev1,O=Acme,C=SE"), as EMQX reports it.
    """
    if not isinstance(peercert, dict):
        return None, None
    subject = peercert.get("subject")
    if not subject:
        return None, None
    rdns: list[str] = []
    cn: str | None = None
    short = {
        "commonName": "CN",
        "organizationName": "O",
        "organizationalUnitName": "OU",
        "countryName": "C",
        "stateOrProvinceName": "ST",
        "localityName": "L",
        "emailAddress": "emailAddress",
        "domainComponent": "DC",
    }
    for rdn in subject:
        parts = []
        for name, value in rdn:
            if name == "commonName" and cn is None:
                cn = str(value)
            parts.append(f"{short.get(name, name)}={value}")
        rdns.append("+".join(parts))
    return cn, ",".join(reversed(rdns))
