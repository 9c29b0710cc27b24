"""``livescan diag network``: can this station reach the centre, and will the centre accept it?

DNS, a TCP connection, the TLS handshake with the station's certificate (mutual TLS, the site CA
as the only trust anchor), days until the station certificate expires (a warning under 30), and
the clock's skew against the centre's (the ``Date`` header of its answer; a warning over 60 s:
certificates and receipts carry times).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from station.diag.report import FAIL, OK, SKIP, WARN, Finding
from sync.clock import Clock, utc_now

CHECK = "network"
EXPIRY_WARN_DAYS = 30
SKEW_WARN_S = 60.0


def check_network(
    url: str,
    *,
    ca: Path,
    cert: Path,
    key: Path,
    timeout: float = 5.0,
    clock: Clock = utc_now,
    warn_days: int = EXPIRY_WARN_DAYS,
    max_skew_s: float = SKEW_WARN_S,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[Finding]:
    """Each step's finding; a failed step skips the ones that need it."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    findings = [_expiry(cert, clock, warn_days)]
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (socket.gaierror, UnicodeError) as exc:
        findings.append(
            Finding(
                CHECK,
                "dns",
                FAIL,
                f"{host} does not resolve ({exc})",
                "check centre.url, /etc/resolv.conf and the network cable or Wi-Fi",
            )
        )
        return findings
    findings.append(
        Finding(CHECK, "dns", OK, f"{host} is {', '.join(addresses)}", data={"addresses": addresses})
    )
    try:
        started = monotonic()
        socket.create_connection((host, port), timeout=timeout).close()
        connect_ms = (monotonic() - started) * 1000
    except OSError as exc:
        findings.append(
            Finding(
                CHECK,
                "tcp",
                FAIL,
                f"no TCP connection to {host}:{port} ({exc.strerror or exc})",
                "the centre is down, or a firewall blocks the port; ask the centre's operators",
            )
        )
        return findings
    findings.append(Finding(CHECK, "tcp", OK, f"connected to {host}:{port} in {connect_ms:.0f} ms"))
    try:
        context = ssl.create_default_context(cafile=str(ca))
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        findings.append(
            Finding(
                CHECK,
                "tls",
                FAIL,
                f"the station's TLS files cannot be used ({exc})",
                f"put the site CA at {ca}, this station's certificate at {cert} and its key at {key} "
                "(mode 0600)",
            )
        )
        return findings
    findings += _tls_and_clock(host, port, context, timeout, clock, max_skew_s)
    return findings


def _expiry(cert: Path, clock: Clock, warn_days: int) -> Finding:
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    except (OSError, ValueError) as exc:
        return Finding(
            CHECK,
            "certificate",
            FAIL,
            f"no usable station certificate at {cert} ({exc})",
            "copy this station's certificate from the centre (`livescan pki init`) to centre.cert",
        )
    now = clock()
    ends, begins = certificate.not_valid_after_utc, certificate.not_valid_before_utc
    days = (ends - now).total_seconds() / 86400
    data = {
        "not_after": ends.isoformat(),
        "days_left": int(days),
        "subject": certificate.subject.rfc4514_string(),
    }
    if now < begins:
        return Finding(
            CHECK,
            "certificate",
            FAIL,
            f"the station certificate is valid only from {begins:%Y-%m-%d %H:%M} UTC",
            "check this station's clock (timedatectl)",
            data,
        )
    if days < 0:
        return Finding(
            CHECK,
            "certificate",
            FAIL,
            f"the station certificate expired on {ends:%Y-%m-%d}",
            "get a new station certificate from the centre",
            data,
        )
    if days < warn_days:
        return Finding(
            CHECK,
            "certificate",
            WARN,
            f"the station certificate expires in {int(days)} day(s)",
            "ask the centre for a new station certificate before it expires",
            data,
        )
    return Finding(
        CHECK, "certificate", OK, f"the station certificate is valid for {int(days)} more days", data=data
    )


def _tls_and_clock(
    host: str, port: int, context: ssl.SSLContext, timeout: float, clock: Clock, max_skew_s: float
) -> list[Finding]:
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    try:
        before = clock()
        connection.request("HEAD", "/", headers={"Connection": "close"})
        response = connection.getresponse()
        after = clock()
        version = connection.sock.version() if connection.sock is not None else "?"
        date = response.getheader("Date")
        response.read()
    except ssl.SSLCertVerificationError as exc:
        return [
            Finding(
                CHECK,
                "tls",
                FAIL,
                f"the centre's certificate is not trusted: {exc.verify_message}",
                "centre.ca must be the site CA that signed the centre's certificate, and centre.url must use "
                "a name the certificate carries",
            )
        ]
    except (ssl.SSLError, ConnectionError, OSError, http.client.HTTPException) as exc:
        return [
            Finding(
                CHECK,
                "tls",
                FAIL,
                f"the TLS handshake failed: {exc}",
                "the centre did not accept this station's certificate: check that centre.cert is this "
                "station's certificate from the same site CA, and that it has not been revoked",
            )
        ]
    finally:
        connection.close()
    findings = [
        Finding(
            CHECK,
            "tls",
            OK,
            f"mutual TLS with {host}:{port} ({version}); the centre answered HTTP {response.status}",
        )
    ]
    findings.append(_skew(date, before, after, max_skew_s))
    return findings


def _skew(date: str | None, before: datetime, after: datetime, max_skew_s: float) -> Finding:
    if not date:
        return Finding(CHECK, "clock", SKIP, "the centre's answer has no Date header")
    try:
        theirs = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return Finding(CHECK, "clock", SKIP, f"the centre's Date header {date[:40]!r} cannot be read")
    ours = before + (after - before) / 2
    skew = (ours - theirs).total_seconds()
    data = {"skew_s": round(skew, 1), "centre_date": date}
    direction = "ahead of" if skew > 0 else "behind"
    if abs(skew) > max_skew_s:
        return Finding(
            CHECK,
            "clock",
            WARN,
            f"this clock is {abs(skew):.0f} s {direction} the centre's",
            "turn on time synchronisation (timedatectl set-ntp true)",
            data,
        )
    return Finding(
        CHECK, "clock", OK, f"this clock is within {max(abs(skew), 1):.0f} s of the centre's", data=data
    )
