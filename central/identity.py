"""Who is calling: the identity carried by a client certificate that ``livescan pki init`` issued.

The certificate's subjectAltName URIs are authoritative (the subject is for people to read):

* a station: ``urn:livescan:ori:<ORI>`` (exactly one) and ``urn:livescan:station:<STATION_ID>``;
  subject O=<ORI>, CN=<STATION_ID>. It may submit and read transactions of that ORI only.
* an operator: ``urn:livescan:operator:<NAME>``; subject OU=operators, CN=<NAME>. It may list
  notifications and nothing else.

The TLS layer has already verified the chain against the site CA before this module sees the
certificate, so here it is only read, never trusted for more than these URIs say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509

ORI_URI = "urn:livescan:ori:"
STATION_URI = "urn:livescan:station:"
OPERATOR_URI = "urn:livescan:operator:"
ORI_PATTERN = re.compile(r"[A-Z0-9]{9}")
STATION_ID_PATTERN = re.compile(r"[A-Z0-9]{2,4}")
OPERATOR_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class IdentityError(ValueError):
    """A certificate that names no station and no operator, or names them ambiguously."""


@dataclass(frozen=True)
class ClientIdentity:
    ori: str | None = None
    station_id: str | None = None
    operator: str | None = None

    @property
    def is_station(self) -> bool:
        return self.ori is not None

    @property
    def is_operator(self) -> bool:
        return self.operator is not None

    @property
    def label(self) -> str:
        """For logs and the audit columns: ``NY0303000/K01`` or ``operator:alice``."""
        if self.is_operator:
            return f"operator:{self.operator}"
        return f"{self.ori}/{self.station_id or '?'}"


def station_uris(ori: str, station_id: str) -> list[str]:
    if not ORI_PATTERN.fullmatch(ori):
        raise IdentityError(f"ORI {ori!r} must be 9 capital letters or digits")
    if not STATION_ID_PATTERN.fullmatch(station_id):
        raise IdentityError(f"station id {station_id!r} must be 2-4 capital letters or digits")
    return [ORI_URI + ori, STATION_URI + station_id]


def operator_uri(name: str) -> str:
    if not OPERATOR_PATTERN.fullmatch(name):
        raise IdentityError(f"operator name {name!r} must be lower-case letters, digits, '.', '_' or '-'")
    return OPERATOR_URI + name


@lru_cache(maxsize=1024)
def identity_from_pem(pem: str) -> ClientIdentity:
    """The identity of a (verified) client certificate in PEM; ``IdentityError`` if it has none."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError as exc:
        raise IdentityError(f"unreadable client certificate: {exc}") from None
    return identity_from_certificate(certificate)


def identity_from_certificate(certificate: x509.Certificate) -> ClientIdentity:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IdentityError("the client certificate has no subjectAltName") from None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    oris = _suffixes(uris, ORI_URI)
    stations = _suffixes(uris, STATION_URI)
    operators = _suffixes(uris, OPERATOR_URI)
    if oris and operators:
        raise IdentityError("the client certificate names both a station and an operator")
    if operators:
        if len(operators) != 1 or not OPERATOR_PATTERN.fullmatch(operators[0]):
            raise IdentityError("the client certificate must name exactly one valid operator")
        return ClientIdentity(operator=operators[0])
    if len(oris) != 1 or not ORI_PATTERN.fullmatch(oris[0]):
        raise IdentityError("the client certificate must name exactly one valid ORI")
    if len(stations) > 1 or (stations and not STATION_ID_PATTERN.fullmatch(stations[0])):
        raise IdentityError("the client certificate names more than one station, or an invalid one")
    return ClientIdentity(ori=oris[0], station_id=stations[0] if stations else None)


def _suffixes(uris: list[str], prefix: str) -> list[str]:
    return [uri[len(prefix) :] for uri in uris if uri.startswith(prefix)]
