"""`livescan pki init`: layout, permissions, identities in the certificates, no silent overwrite."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from central_helpers import ORI_A, STATION_A
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central.cli import pki as pki_command
from central.identity import ClientIdentity, IdentityError, identity_from_certificate, identity_from_pem
from central.pki import PkiError, PkiLayout, StationName


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(pki_command, ["init", *args])
    return result.exit_code, result.output


def test_init_writes_the_documented_layout_with_private_keys_0600(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    code, output = run_init(
        str(root), "--site", "county", "--station", "NY0303000:K01", "--station", "NY0303000:K02",
        "--operator", "alice", "--host", "central.example", "--host", "10.0.0.5", "--days", "30",
    )  # fmt: skip
    assert code == 0, output
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    assert files == [
        "ca.key", "ca.pem", "operators/alice.key", "operators/alice.pem", "server.key", "server.pem",
        "stations/NY0303000-K01.key", "stations/NY0303000-K01.pem",
        "stations/NY0303000-K02.key", "stations/NY0303000-K02.pem",
    ]  # fmt: skip
    for key in root.rglob("*.key"):
        assert mode(key) == 0o600, key
    assert mode(root / "stations") == 0o700
    assert mode(root / "ca.pem") == 0o644
    server = load(root / "server.pem")
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "central.example"}
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.0.0.5"),
    }
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ca = load(root / "ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for path in [root / "server.pem", *root.glob("stations/*.pem"), *root.glob("operators/*.pem")]:
        load(path).verify_directly_issued_by(ca)
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert 30 <= lifetime.days <= 31


def test_station_certificate_carries_its_ori(pki: PkiLayout) -> None:
    certificate = load(pki.station_cert(STATION_A))
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORI_A
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "K01"
    uris = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"urn:livescan:ori:{ORI_A}" in uris.get_values_for_type(x509.UniformResourceIdentifier)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert identity_from_pem(pki.station_cert(STATION_A).read_text()) == ClientIdentity(
        ori=ORI_A, station_id="K01"
    )
    assert identity_from_pem(pki.operator_cert("alice").read_text()) == ClientIdentity(operator="alice")


def test_a_certificate_without_a_livescan_identity_is_no_one(pki: PkiLayout) -> None:
    with pytest.raises(IdentityError):
        identity_from_certificate(load(pki.server_cert))
    with pytest.raises(IdentityError):
        identity_from_certificate(load(pki.ca_cert))


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    assert run_init(str(root), "--station", "NY0303000:K01")[0] == 0
    before = (root / "ca.pem").read_bytes()
    code, output = run_init(str(root), "--station", "NY0303000:K01")
    assert code != 0 and "--force" in output
    assert (root / "ca.pem").read_bytes() == before
    code, output = run_init(str(root), "--station", "NY0303000:K09", "--force")
    assert code == 0, output
    assert (root / "ca.pem").read_bytes() != before
    assert sorted(path.name for path in (root / "stations").iterdir()) == [
        "NY0303000-K09.key",
        "NY0303000-K09.pem",
    ]


@pytest.mark.parametrize("text", ["NY0303000", "NY03:K01", "ny0303000:K01", "NY0303000:K0000X", "NY0303000:"])
def test_bad_station_names_are_refused(text: str) -> None:
    with pytest.raises(PkiError):
        StationName.parse(text)


def test_bad_operator_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    code, output = run_init(str(tmp_path / "pki"), "--operator", "Bad Name")
    assert code != 0 and "operator name" in output
    assert not PkiLayout(tmp_path / "pki").existing()
