"""Opening ports: every failure gets a named error that says what to do."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from drivers.errors import DeviceNotFound, PortInUse, PortPermissionDenied, UnknownURLScheme
from drivers.transport import open_port


@pytest.fixture
def pty_path() -> Iterator[str]:
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    yield path
    os.close(slave)
    os.close(master)


def test_missing_device_says_where_to_look() -> None:
    with pytest.raises(DeviceNotFound) as info:
        open_port("/dev/ttyDOES-NOT-EXIST", 57600)
    assert "/dev/ttyDOES-NOT-EXIST" in str(info.value)
    assert "ttyAMA0" in str(info.value)  # the hint names the Pi's UARTs


def test_unknown_url_scheme_is_named() -> None:
    with pytest.raises(UnknownURLScheme, match="'bogus'"):
        open_port("bogus://thing", 57600)


def test_nothing_listening_on_a_socket_url() -> None:
    import socket

    with socket.socket() as s:  # find a free port, then leave it closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeviceNotFound, match="nothing is listening"):
        open_port(f"socket://127.0.0.1:{port}", 57600)


def test_second_opener_in_this_process_is_told_the_pid(pty_path: str) -> None:
    first = open_port(pty_path, 57600)
    try:
        with pytest.raises(PortInUse) as info:
            open_port(pty_path, 57600)
        assert info.value.pid == os.getpid()
        assert f"in use by PID {os.getpid()}" in str(info.value)
    finally:
        first.close()
    open_port(pty_path, 57600).close()  # free again once closed


def test_second_opener_in_another_process_is_told_the_holders_pid(pty_path: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from drivers.transport import open_port
            port = open_port({pty_path!r}, 57600)
            print("held", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PortInUse) as info:
            open_port(pty_path, 57600)
        assert info.value.pid == holder.pid
        assert f"in use by PID {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_permission_denied_names_the_group(pty_path: str) -> None:
    os.chmod(pty_path, 0o600)
    code = textwrap.dedent(f"""
        import os
        from drivers.errors import PortPermissionDenied
        from drivers.transport import open_port
        os.setgid(65534); os.setgroups([]); os.setuid(65534)
        try:
            open_port({pty_path!r}, 57600)
        except PortPermissionDenied as exc:
            print("DENIED", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("DENIED"), out.stderr
    assert "is not a member" in out.stdout
    assert "dialout" in out.stdout  # the hint says which group to join
    assert PortPermissionDenied.hint in out.stdout
