"""HTTPS for a phone on the network: the self-signed certificate, the settings, a real server."""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from residue.config import Settings
from residue.errors import ParameterError
from residue.transport import tls


def _names(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )


def test_self_signed_is_made_once_for_its_hosts(tmp_path: Path) -> None:
    files = tls.self_signed(tmp_path, ["192.168.1.5"])
    assert _names(files.cert) == {"localhost", "127.0.0.1", "192.168.1.5"}
    assert files.key.stat().st_mode & 0o777 == 0o600
    made = files.cert.read_bytes()
    # the same hosts: kept; a new address (another network): made again, naming it
    assert tls.self_signed(tmp_path, ["192.168.1.5"]).cert.read_bytes() == made
    again = tls.self_signed(tmp_path, ["10.0.0.7"])
    assert again.cert.read_bytes() != made and "10.0.0.7" in _names(again.cert)
    # a damaged file is replaced, not trusted
    again.cert.write_text("not a certificate")
    assert "10.0.0.7" in _names(tls.self_signed(tmp_path, ["10.0.0.7"]).cert)


def test_settings_choose_the_certificate(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path)
    assert tls.tls_files(base) is None  # plain http unless asked
    made = tls.tls_files(dataclasses.replace(base, https=True))
    assert made is not None and made.cert.parent == tmp_path / tls.TLS_DIR
    own = tls.tls_files(dataclasses.replace(base, https=True, tls_cert=made.cert,
                                            tls_key=made.key))
    assert own == made
    with pytest.raises(ParameterError, match="set both RESIDUE_TLS_CERT and RESIDUE_TLS_KEY"):
        tls.tls_files(dataclasses.replace(base, https=True, tls_cert=made.cert))
    with pytest.raises(ParameterError, match="does not exist"):
        tls.tls_files(dataclasses.replace(base, https=True, tls_cert=tmp_path / "no.pem",
                                          tls_key=made.key))
    env = Settings.from_env({"RESIDUE_HTTPS": "1", "RESIDUE_TLS_CERT": str(made.cert),
                             "RESIDUE_TLS_KEY": str(made.key)})
    assert env.https and env.tls_cert == made.cert and env.tls_key == made.key
    assert not Settings.from_env({"RESIDUE_HTTPS": "0"}).https


def test_lan_addresses_are_not_loopback() -> None:
    for addr in tls.lan_addresses():
        assert not addr.startswith("127.")


def test_serve_https_for_real(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "RESIDUE_WARM_UP": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "residue.cli", "serve", "--https", "--no-demo",
         "--port", str(port), "--data", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        cert = tmp_path / tls.TLS_DIR / "cert.pem"
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
            if cert.is_file():
                # the page's own certificate is the only one trusted, and the name is checked
                context = ssl.create_default_context(cafile=str(cert))
                try:
                    with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/health",
                                                context=context, timeout=2) as r:
                        body = r.read()
                    break
                except (OSError, ssl.SSLError):
                    pass
            time.sleep(0.25)
        assert b"ok" in body, body
        with pytest.raises(OSError):  # no plain http on the same port
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert f"https://127.0.0.1:{port}/#s=default&t=" in out


@pytest.mark.parametrize(
    ("host", "https", "url", "note"),
    [
        ("127.0.0.1", True, None, "RESIDUE_HOST=0.0.0.0"),
        ("192.168.1.5", False, "http://192.168.1.5:8000", "swipe page plays whole previews"),
        ("192.168.1.5", True, "https://192.168.1.5:8000", ""),
    ],
)
def test_phone_link_says_where_or_why_not(
    host: str, https: bool, url: str | None, note: str
) -> None:
    link = tls.phone_link(Settings(host=host, port=8000, https=https))
    assert link.url == url and note in link.note


def test_phone_link_on_every_interface_names_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    tls._phone_link.cache_clear()
    monkeypatch.setattr(tls, "lan_addresses", lambda: ["10.1.2.3"])
    assert tls.phone_link(Settings(host="0.0.0.0", port=9000, https=True)).url == (
        "https://10.1.2.3:9000"
    )
    tls._phone_link.cache_clear()
