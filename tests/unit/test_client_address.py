"""The one rule for a client's address: the TCP peer, or X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from campaigns.core.client_address import MAX_LENGTH, UNKNOWN, client_address
from campaigns.core.settings import Settings, SettingsError, load_settings

NO_PROXIES = Settings()
PROXIES = replace(Settings(), trusted_proxies="10.0.0.0/8, 192.0.2.1, fd00::/8")


def address(peer, forwarded=None, settings=PROXIES):
    return client_address(peer, forwarded, settings=settings)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # an untrusted peer's header is ignored
        ("127.0.0.1", "198.51.100.1", "127.0.0.1"),  # loopback is not trusted unless listed
        ("2001:DB8:0:0::1", "198.51.100.1", "2001:db8::1"),  # normalized
        ("::ffff:203.0.113.5", None, "203.0.113.5"),  # IPv4-mapped IPv6 reads as IPv4
        (None, "198.51.100.1", UNKNOWN),
        ("", None, UNKNOWN),
        ("testclient", "198.51.100.1", "testclient"),  # not an IP: kept, never trusted
    ],
)
def test_the_peer_is_the_address_unless_it_is_a_trusted_proxy(peer, forwarded, expected):
    assert address(peer, forwarded) == expected


def test_nothing_is_trusted_by_default():
    assert address("10.1.2.3", "198.51.100.1", settings=NO_PROXIES) == "10.1.2.3"


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("192.0.2.1", "198.51.100.1", "198.51.100.1"),  # a single address is a /32
        ("10.0.0.2", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # past each trusted proxy
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own "6.6.6.6" is only a claim
        ("10.0.0.2", "10.9.9.9, 6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a spoofed "proxy" at the left
        ("10.0.0.2", "198.51.100.1:4711", "198.51.100.1"),  # ports dropped
        ("10.0.0.2", '"[2001:db8::7]:443"', "2001:db8::7"),
        ("fd00::5", "2001:DB8::0:7", "2001:db8::7"),  # IPv6 proxy and client
        ("10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, garbage, , unknown", "198.51.100.1"),  # invalid entries ignored
        ("10.0.0.2", "10.0.0.7, 10.0.0.8", "10.0.0.7"),  # all trusted: the left-most, where it started
        ("10.0.0.2", "garbage", "10.0.0.2"),  # nothing usable: the proxy itself
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),  # a mapped peer is trusted as its IPv4
    ],
)
def test_behind_trusted_proxies_the_right_most_untrusted_forwarded_address_counts(peer, forwarded, expected):
    assert address(peer, forwarded) == expected


def test_the_result_fits_the_column():
    long_peer = "x" * 500
    assert len(address(long_peer)) == MAX_LENGTH
    zoned = "fe80::1%" + "e" * 80
    assert len(address("10.0.0.2", zoned)) <= MAX_LENGTH


def test_trusted_proxies_are_read_from_the_environment(tmp_path):
    settings = load_settings(environ={"RALLY_TRUSTED_PROXIES": "10.0.0.0/8,::1"}, env_file=tmp_path / "none")
    assert client_address("::1", "198.51.100.1", settings=settings) == "198.51.100.1"
    assert client_address("10.2.3.4", "198.51.100.1", settings=settings) == "198.51.100.1"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "localhost", "10.0.0.0/8; 192.0.2.1", "*"])
def test_a_bad_trusted_proxies_value_is_refused_at_load(tmp_path, value):
    with pytest.raises(SettingsError, match="RALLY_TRUSTED_PROXIES") as info:
        load_settings(environ={"RALLY_TRUSTED_PROXIES": value}, env_file=tmp_path / "none")
    assert "10.0.0.0/8" in info.value.user_message  # says what a right value looks like
