"""HTTPS for phones on the same network.

A browser gives Web Audio worklets (and shared memory) only to a secure page: ``https://``, or
``http://`` on the machine itself. A phone that opens ``http://192.168.1.5:8000`` gets a studio
that cannot stream sound (the swipe page falls back to whole clips). ``RESIDUE_HTTPS=1`` serves
https with the certificate in
``RESIDUE_TLS_CERT`` / ``RESIDUE_TLS_KEY``, or else with a self-signed one that residue makes
once in ``<data>/tls/`` for this machine's names and addresses (a browser asks to trust it the
first time).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from residue.config import Settings
from residue.errors import ParameterError

#: How long a self-signed certificate lasts (browsers refuse more than about 13 months).
VALID_DAYS = 397
#: The folder of the self-signed certificate, inside the data folder.
TLS_DIR = "tls"


class TlsFiles(NamedTuple):
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine on its networks (not loopback), best guess first.

    The address of the default route comes first (a UDP "connect" picks it without sending
    anything); then the addresses of the host name.
    """
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            found.append(str(s.getsockname()[0]))
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(info[4][0]))
    except OSError:
        pass
    out: list[str] = []
    for addr in found:
        if not ipaddress.ip_address(addr).is_loopback and addr not in out:
            out.append(addr)
    return out


def _covers(cert_path: Path, names: Sequence[str]) -> bool:
    """Whether the certificate at ``cert_path`` is valid now and names every host in ``names``."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc - dt.timedelta(days=1):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    have |= set(san.get_values_for_type(x509.DNSName))
    return all(name in have for name in names)


def _host_names(hosts: Sequence[str]) -> list[str]:
    names = ["localhost", "127.0.0.1", *hosts]
    out: list[str] = []
    for name in names:
        if name and name not in ("0.0.0.0", "::") and name not in out:
            out.append(name)
    return out


def self_signed(folder: Path, hosts: Sequence[str]) -> TlsFiles:
    """A self-signed certificate for ``hosts`` (and localhost), made once and kept in ``folder``.

    It is made again when it expires or does not name every host (the machine moved to another
    network). The key is readable by its owner only.

    Parameters
    ----------
    folder : Path
    hosts : sequence of str
        Host names and IP addresses the certificate must name.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    names = _host_names(hosts)
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    if files.key.is_file() and _covers(files.cert, names):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "residue on this machine")])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    tmp_key = files.key.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    tmp_key.replace(files.key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def tls_files(settings: Settings) -> TlsFiles | None:
    """The certificate to serve https with, or None for plain http.

    Raises
    ------
    ParameterError
        If only one of ``RESIDUE_TLS_CERT`` and ``RESIDUE_TLS_KEY`` is set, or a file is missing.
    """
    if not settings.https:
        return None
    cert, key = settings.tls_cert, settings.tls_key
    if cert is not None or key is not None:
        if cert is None or key is None:
            raise ParameterError("set both RESIDUE_TLS_CERT and RESIDUE_TLS_KEY, or neither")
        for path in (cert, key):
            if not path.is_file():
                raise ParameterError(f"{path} does not exist (RESIDUE_TLS_CERT/_KEY)")
        return TlsFiles(cert, key)
    hosts = [settings.host]
    if settings.host in ("0.0.0.0", "::"):
        hosts += lan_addresses()
    return self_signed(settings.data_dir / TLS_DIR, hosts)


class PhoneLink(NamedTuple):
    """Where a phone on the network finds this server, or why it cannot (``note``)."""

    url: str | None
    note: str


@functools.lru_cache(maxsize=8)
def _phone_link(host: str, port: int, https: bool) -> PhoneLink:
    wide = host in ("0.0.0.0", "::")
    if not wide and host in ("localhost", "127.0.0.1", "::1"):
        return PhoneLink(None, "residue listens on this computer only: start it with "
                               "RESIDUE_HOST=0.0.0.0 (and RESIDUE_HTTPS=1 for the studio) so a "
                               "phone on your Wi-Fi can reach it")
    address = host
    if wide:
        lan = lan_addresses()
        if not lan:
            return PhoneLink(None, "this computer has no network address a phone could use")
        address = lan[0]
    if https:
        return PhoneLink(f"https://{address}:{port}", "")
    return PhoneLink(f"http://{address}:{port}", "over plain http the swipe page plays whole "
                     "previews; the studio's streaming needs RESIDUE_HTTPS=1")


def phone_link(settings: Settings) -> PhoneLink:
    """Where a phone on the same network opens residue (https), or why it cannot."""
    return _phone_link(settings.host, settings.port, settings.https)
