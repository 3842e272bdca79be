"""A fake of Discord's CDN over TLS on 127.0.0.1: files the tests made, a 404 for the rest,
redirects, and a body that does not end (until its reader goes); it records every request.

Its certificate is signed by a CA made here and written to GOVA_DISCORD_ATTACHMENT_CA_FILE
(tests/conftest.py names the path), which the intake trusts for attachment fetches, so the
fetches are https as they are against Discord.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from tests.fakes.serving import ServedFake

CHUNK = 64 * 1024
#: An endless body stops here all the same: far more than a reader gets through in the
#: intake's timeout, so only a reader that stops by itself finishes before that.
ENDLESS_MAX = 64 * 1024**3


def _certificates(ca_file: Path, into: Path) -> tuple[Path, Path]:
    """A CA (its certificate written to `ca_file`) and a certificate for 127.0.0.1 it signed;
    the latter's (cert, key) files in `into`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake CDN test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = into / "cert.pem", into / "key.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class FakeCDN(ServedFake):
    name = "fake-cdn"
    probe_path = "/probe"

    def __init__(self, ca_file: str | Path | None = None) -> None:
        super().__init__()
        self.ca_file = Path(ca_file or os.environ["GOVA_DISCORD_ATTACHMENT_CA_FILE"])
        self._dir = tempfile.TemporaryDirectory(prefix="fake-cdn-")
        cert, key = _certificates(self.ca_file, Path(self._dir.name))
        self.tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        self.verify = ssl.create_default_context(cafile=str(self.ca_file))
        #: Paths asked for (after /attachments/), in order.
        self.requests: list[str] = []
        #: Bytes an endless body sent, by path.
        self.sent: dict[str, int] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.endless_paths: set[str] = set()
        self.app = FastAPI()

        @self.app.get("/probe")
        async def probe() -> dict:
            return {}

        @self.app.get("/attachments/{path:path}")
        async def attachment(path: str, request: Request) -> Response:
            self.requests.append(path)
            if path in self.redirects:
                return RedirectResponse(self.redirects[path], status_code=302)
            if path in self.endless_paths:
                return StreamingResponse(self._endless(path), media_type="image/png")
            if path not in self.files:
                return Response(b"not found", status_code=404)
            body, content_type = self.files[path]
            return Response(body, media_type=content_type)

    async def _endless(self, path: str):
        """A PNG signature, then zeros without end (up to ENDLESS_MAX), counted as sent."""
        self.sent[path] = 0
        chunk = b"\x89PNG\r\n\x1a\n" + bytes(CHUNK - 8)
        while self.sent[path] < ENDLESS_MAX:
            yield chunk
            self.sent[path] += len(chunk)
            chunk = bytes(CHUNK)
            await asyncio.sleep(0)  # so a disconnect's cancellation reaches it

    def url(self, path: str) -> str:
        return f"{self.root}/attachments/{path}"

    def serve(self, path: str, body: bytes, content_type: str) -> str:
        self.files[path] = (body, content_type)
        return self.url(path)

    def endless(self, path: str) -> str:
        self.endless_paths.add(path)
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        self.redirects[path] = to
        return self.url(path)

    def stop(self, timeout_s: float = 10.0) -> None:
        super().stop(timeout_s)
        self._dir.cleanup()
