"""A site's certificates for mutual TLS: one CA, the central server, each station, each operator.

``livescan pki init DIR --station NY0303000:K01 ...`` writes (keys 0600, directories 0700)::

    DIR/ca.pem  DIR/ca.key                          the site CA (keep ca.key offline in production)
    DIR/server.pem  DIR/server.key                  central server: SAN 127.0.0.1, localhost, --host
    DIR/stations/<ORI>-<STATION_ID>.pem/.key        one client certificate per station
    DIR/operators/<NAME>.pem/.key                   one client certificate per operator

Identities are in the subjectAltName URIs described in ``central.identity``. Keys are ECDSA P-256,
signatures SHA-256; client certificates carry extendedKeyUsage clientAuth, the server's
serverAuth. Nothing is overwritten unless ``force`` is given; then the whole layout is replaced.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central.identity import IdentityError, operator_uri, station_uris
from sync.clock import utc_now

CLOCK_SKEW = timedelta(minutes=5)  # certificates are valid from a little before they are made
SERVER_NAMES = ("localhost", "127.0.0.1")


class PkiError(Exception):
    """The PKI directory cannot be written as asked (exists, bad names)."""


@dataclass(frozen=True)
class StationName:
    ori: str
    station_id: str

    @classmethod
    def parse(cls, text: str) -> StationName:
        """``NY0303000:K01`` -> StationName; ``PkiError`` when malformed."""
        ori, separator, station_id = text.partition(":")
        if not separator:
            raise PkiError(f"station {text!r} must be written ORI:STATION_ID, e.g. NY0303000:K01")
        name = cls(ori, station_id)
        try:
            station_uris(ori, station_id)
        except IdentityError as exc:
            raise PkiError(str(exc)) from None
        return name


@dataclass(frozen=True)
class PkiLayout:
    """Where each file of a PKI directory lives."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def stations(self) -> Path:
        return self.root / "stations"

    @property
    def operators(self) -> Path:
        return self.root / "operators"

    def station_cert(self, station: StationName) -> Path:
        return self.stations / f"{station.ori}-{station.station_id}.pem"

    def station_key(self, station: StationName) -> Path:
        return self.stations / f"{station.ori}-{station.station_id}.key"

    def operator_cert(self, name: str) -> Path:
        return self.operators / f"{name}.pem"

    def operator_key(self, name: str) -> Path:
        return self.operators / f"{name}.key"

    def missing_for_server(self) -> list[Path]:
        """The files ``central serve`` needs that are not there."""
        return [path for path in (self.ca_cert, self.server_cert, self.server_key) if not path.is_file()]

    def existing(self) -> list[Path]:
        top = [self.ca_cert, self.ca_key, self.server_cert, self.server_key]
        return [path for path in [*top, self.stations, self.operators] if path.exists()]


@dataclass(frozen=True)
class _Issuer:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def init_pki(
    root: Path,
    *,
    stations: Iterable[StationName],
    operators: Iterable[str] = (),
    site: str = "demo",
    hosts: Iterable[str] = (),
    days: int = 365,
    force: bool = False,
    now: datetime | None = None,
) -> list[Path]:
    """Create the CA, server, station and operator certificates under ``root``; the files written."""
    stations, operators = list(dict.fromkeys(stations)), list(dict.fromkeys(operators))
    for name in operators:
        try:
            operator_uri(name)
        except IdentityError as exc:
            raise PkiError(str(exc)) from None
    if days < 1:
        raise PkiError("--days must be at least 1")
    layout = PkiLayout(root)
    _prepare(layout, force)
    start = (now or utc_now()) - CLOCK_SKEW
    end = start + CLOCK_SKEW + timedelta(days=days)
    ca = _make_ca(site, start, end)
    written = [*_write_pair(layout.ca_cert, layout.ca_key, ca.certificate, ca.key)]
    server_key = _new_key()
    server_name = _name(site, "livescan central")
    server = _leaf(
        ca, server_key, server_name, _server_names(hosts), ExtendedKeyUsageOID.SERVER_AUTH, start, end
    )
    written += _write_pair(layout.server_cert, layout.server_key, server, server_key)
    for station in stations:
        key = _new_key()
        uris = [x509.UniformResourceIdentifier(uri) for uri in station_uris(station.ori, station.station_id)]
        subject = _name(station.ori, station.station_id)
        cert = _leaf(ca, key, subject, uris, ExtendedKeyUsageOID.CLIENT_AUTH, start, end)
        written += _write_pair(layout.station_cert(station), layout.station_key(station), cert, key)
    for name in operators:
        key = _new_key()
        uris = [x509.UniformResourceIdentifier(operator_uri(name))]
        cert = _leaf(
            ca, key, _name(site, name, unit="operators"), uris, ExtendedKeyUsageOID.CLIENT_AUTH, start, end
        )
        written += _write_pair(layout.operator_cert(name), layout.operator_key(name), cert, key)
    return written


def _prepare(layout: PkiLayout, force: bool) -> None:
    existing = layout.existing()
    if existing and not force:
        shown = ", ".join(str(path) for path in existing)
        raise PkiError(f"{shown} already exist; pass --force to replace the whole PKI")
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    for directory in (layout.root, layout.stations, layout.operators):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(organisation: str, common_name: str, *, unit: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _server_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys([*SERVER_NAMES, *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _make_ca(site: str, start: datetime, end: datetime) -> _Issuer:
    key = _new_key()
    name = _name(site, f"{site} livescan CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Issuer(key, certificate)


def _leaf(
    ca: _Issuer,
    key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    names: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    start: datetime,
    end: datetime,
) -> x509.Certificate:
    authority = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(
    cert_path: Path, key_path: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> list[Path]:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(key_path, key_pem, 0o600)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return [cert_path, key_path]


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file created with ``mode`` (a key is never readable by others)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)  # the umask may have removed bits of a certificate's 0644
