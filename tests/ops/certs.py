"""Test certificates made by the tests: a CA, server and client certificates, an expired one,
and a second CA whose certificates the gateway must not trust (``cryptography`` package)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Pair
    client: Pair
    expired_client: Pair
    rogue_client: Pair          # signed by another CA
    rogue_ca: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pair:
    path.parent.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Pair(cert_path, key_path)


def _ca(cn: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


Signed = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _leaf(cn: str, ca: Signed, *, server: bool, not_before: dt.datetime, not_after: dt.datetime) -> Signed:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca[0].subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(ca[1], hashes.SHA256()), key


def make_pki(directory: Path) -> Pki:
    now = dt.datetime.now(dt.UTC)
    ca = _ca("Plxtra Test CA", now)
    rogue = _ca("Rogue CA", now)
    ca_path = directory / "ca.crt"
    directory.mkdir(parents=True, exist_ok=True)
    ca_path.write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    rogue_path = directory / "rogue-ca.crt"
    rogue_path.write_bytes(rogue[0].public_bytes(serialization.Encoding.PEM))
    valid = {"not_before": now - dt.timedelta(hours=1), "not_after": now + dt.timedelta(days=7)}
    return Pki(
        ca=ca_path,
        server=_write(directory / "server", *_leaf("localhost", ca, server=True, **valid)),
        client=_write(directory / "client1", *_leaf("CLIENT1", ca, server=False, **valid)),
        expired_client=_write(directory / "expired", *_leaf(
            "CLIENT1", ca, server=False, not_before=now - dt.timedelta(days=10),
            not_after=now - dt.timedelta(days=1))),
        rogue_client=_write(directory / "rogue", *_leaf("CLIENT1", rogue, server=False, **valid)),
        rogue_ca=rogue_path,
    )
