"""Address helpers shared by the config and the IMAP reader."""

from __future__ import annotations

import pytest

from mailer.addresses import is_loopback


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["mail.example", "localhost.example", "10.0.0.1", "128.0.0.1", "::2", "", "[::1]", "127.1"],
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)
