"""TLS listeners: certificate swap without dropping clients, two-way TLS identity, SNI tenant selection,
and removing TLS closing the TLS listeners and their connections."""

import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.certs import default_pki, make_leaf, make_root_ca, private_key
from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, BrokerProcess, listener, make_spec

from mqttcloud import contracts

Factory = Callable[[contracts.BrokerSpec], BrokerProcess]


def client_context(ca_pem: str, *, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca_pem)
    ctx.check_hostname = False
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def peer_cert_cn(client: w.Client) -> str:
    sock = client.sock
    assert isinstance(sock, ssl.SSLSocket)
    cert = sock.getpeercert()
    assert cert is not None
    for rdn in cert["subject"]:
        for pair in rdn:
            if pair[0] == "commonName":
                return str(pair[1])
    raise AssertionError("no CN")


def refused(port: int, ctx: ssl.SSLContext, sni: str | None) -> bool:
    """Whether the server refuses this TLS client (TLS 1.3 reports it on the first read)."""
    try:
        c = w.Client(port, tls=ctx, sni=sni)
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        c.send(w.connect("refused"))
        c.recv_packet()
    except (ssl.SSLError, ConnectionError):
        return True
    finally:
        c.close()
    return False


def tls_connected(port: int, client_id: str, ctx: ssl.SSLContext, sni: str | None = "localhost") -> w.Client:
    c = w.Client(port, tls=ctx, sni=sni)
    c.send(w.connect(client_id))
    c.expect(w.CONNACK_V4_OK)
    return c


def test_certificate_swap_keeps_connected_clients(broker_factory: Factory, tmp_path: Path) -> None:
    pki = default_pki()
    spec = make_spec(
        tmp_path,
        listeners=[listener("tcp:default", "tcp"), listener("ssl:default", "tls")],
        tls=contracts.TlsSpec(cert_pem=pki.server_chain_pem, key_pem=pki.server.key_pem),
    )
    b = broker_factory(spec)
    port = b.port("ssl:default")
    old = tls_connected(port, "before", client_context(pki.root.cert_pem))
    assert peer_cert_cn(old) == "localhost"
    new_root = make_root_ca("swapped root", key=private_key("ec256", 120))
    new_leaf = make_leaf(new_root, "swapped-server", key=private_key("ec256", 121))
    b.apply(
        spec.model_copy(
            update={"tls": contracts.TlsSpec(cert_pem=new_leaf.cert_pem, key_pem=new_leaf.key_pem)}
        ),
        2,
    )
    assert b.port("ssl:default") == port  # the listener stays
    with tls_connected(port, "after", client_context(new_root.cert_pem)) as fresh:
        assert peer_cert_cn(fresh) == "swapped-server"
    # The client connected before the swap is still connected and served.
    old.send(w.PINGREQ)
    old.expect(w.PINGRESP)
    old.close()


def test_removing_tls_closes_tls_listener_and_its_clients(broker_factory: Factory, tmp_path: Path) -> None:
    pki = default_pki()
    spec = make_spec(
        tmp_path,
        listeners=[
            listener("tcp:default", "tcp"),
            listener("ssl:default", "tls"),
            listener("wss:default", "wss"),
        ],
        tls=contracts.TlsSpec(cert_pem=pki.server_chain_pem, key_pem=pki.server.key_pem),
    )
    b = broker_factory(spec)
    tls_port = b.port("ssl:default")
    with (
        tls_connected(tls_port, "tls-c", client_context(pki.root.cert_pem)) as c,
        w.connected(b.port(), "tcp-c") as plain,
    ):
        result = b.apply(spec.model_copy(update={"tls": None}), 2)
        assert [e["name"] for e in result["listeners"]] == ["tcp:default"]
        assert c.is_closed()
        plain.send(w.PINGREQ)
        plain.expect(w.PINGRESP)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()


def test_two_way_tls_requires_client_certificate_and_reports_cn(
    broker_factory: Factory, tmp_path: Path
) -> None:
    pki = default_pki()
    spec = make_spec(
        tmp_path,
        listeners=[listener("ssl:default", "tls")],
        tls=contracts.TlsSpec(
            cert_pem=pki.server_chain_pem,
            key_pem=pki.server.key_pem,
            mode=contracts.TlsMode.TWO_WAY,
            ca_pem=pki.root.cert_pem,
        ),
    )
    b = broker_factory(spec)
    port = b.port("ssl:default")
    good = pki.client.write(tmp_path, "client")
    with tls_connected(port, "mtls", client_context(pki.root.cert_pem, cert=good)):
        info = b.admin("get_client", tenant=TENANT, clientid="mtls")
        assert info["cn"] == "test-client"
        assert "CN=test-client" in str(info["dn"])
    stranger = pki.other_client.write(tmp_path, "other")
    for cert in (None, stranger):
        assert refused(port, client_context(pki.root.cert_pem, cert=cert), "localhost")


def test_sni_selects_tenant_and_unknown_sni_is_refused(broker_factory: Factory, tmp_path: Path) -> None:
    pki = default_pki()
    tenants = [
        contracts.TenantSpec(
            tenant_id=contracts.TenantId("ta"), sni_hosts=["a.example"], allow_anonymous=True
        ),
        contracts.TenantSpec(
            tenant_id=contracts.TenantId("tb"), sni_hosts=["B.example"], allow_anonymous=True
        ),
    ]
    spec = make_spec(
        tmp_path,
        listeners=[listener("ssl:shared", "tls", tenant=None, selector="sni")],
        tenants=tenants,
        tls=contracts.TlsSpec(cert_pem=pki.server_chain_pem, key_pem=pki.server.key_pem),
    )
    b = broker_factory(spec)
    port = b.port("ssl:shared")
    ctx = client_context(pki.root.cert_pem)
    with tls_connected(port, "in-a", ctx, sni="a.example"), tls_connected(port, "in-b", ctx, sni="b.example"):
        a = b.admin("list_clients", tenant="ta")
        assert [c["clientid"] for c in a["data"]] == ["in-a"]
        assert a["data"][0]["peersni"] == "a.example"
        assert b.admin("list_clients", tenant="tb")["count"] == 1
    for sni in ("unknown.example", None):
        # The handshake completes (asyncio drops OpenSSL's unrecognized_name alert, so a refused
        # handshake would look like a bare EOF); the CONNECT is answered "server unavailable" and closed.
        with w.Client(port, tls=ctx, sni=sni) as c:
            c.send(w.connect("nowhere"))
            c.expect(b"\x20\x02\x00\x03")
            assert c.is_closed()


def test_adding_tls_opens_the_tls_listeners(broker_factory: Factory, tmp_path: Path) -> None:
    """Dedicated flow: TLS listeners are in the spec from the start but open only once TLS is set."""
    pki = default_pki()
    spec = make_spec(
        tmp_path,
        listeners=[
            listener("tcp:default", "tcp"),
            listener("ssl:default", "tls"),
            listener("wss:default", "wss"),
        ],
    )
    b = broker_factory(spec)
    assert [a.name for a in b.reload_ready().listeners] == ["tcp:default"]
    tls = contracts.TlsSpec(cert_pem=pki.server_chain_pem, key_pem=pki.server.key_pem)
    result = b.apply(spec.model_copy(update={"tls": tls}), 2)
    assert sorted(e["name"] for e in result["listeners"]) == ["ssl:default", "tcp:default", "wss:default"]
    with tls_connected(b.port("ssl:default"), "now-tls", client_context(pki.root.cert_pem)) as c:
        c.send(w.PINGREQ)
        c.expect(w.PINGRESP)
