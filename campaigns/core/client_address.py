"""Which address a request comes from: the one rule, for log-in limits and anything else that needs it.

The address is the direct TCP peer. Only when that peer is one of ``RALLY_TRUSTED_PROXIES`` (a
comma-separated list of networks, e.g. ``10.0.0.0/8, ::1``; empty by default: trust no one) is
``X-Forwarded-For`` read, right to left, past every trusted proxy, to the first address that is not
one: each proxy appends the address it saw, so everything left of that is whatever the client chose
to write. Entries that are not addresses are skipped. The result is normalized by the ``ipaddress``
module (an IPv4-mapped IPv6 peer reads as IPv4), at most 64 characters, and ``"unknown"`` when
there is nothing to go by.

The web server must not rewrite the peer itself: uvicorn would, from ``X-Forwarded-For``, for any
peer in its ``FORWARDED_ALLOW_IPS`` (loopback by default), so anyone on the machine or behind a local
proxy could choose their address. :func:`keep_tcp_peer` (called by ``rally_app.py``) turns that off.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the settings module imports this one to check RALLY_TRUSTED_PROXIES at load
    from campaigns.core.settings import Settings

UNKNOWN = "unknown"
MAX_LENGTH = 64  # as stored (login_attempt.client_address, auth_session.client_address)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """The networks of a RALLY_TRUSTED_PROXIES value; ValueError naming the first entry that is not one."""
    networks = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"“{entry[:80]}” is not an address or a network: use forms like 10.0.0.0/8, 192.0.2.7 or fd00::/8"
            ) from None
        networks.append(_unmapped_network(network))
    return tuple(networks)


def _unmapped_network(network: Network) -> Network:
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped and network.prefixlen >= 96:
        return ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
    return network


def _address(text: str | None) -> Address | None:
    """An address as a peer or a forwarded entry gives it (``[v6]:port`` and ``v4:port`` accepted), or None."""
    text = (text or "").strip().strip('"')
    if not text or len(text) > 100:
        return None
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, *, settings: Settings | None = None) -> str:
    """The client's address: ``peer`` (the direct TCP peer, e.g. ``request.client.host`` or
    ``st.context.ip_address``), or, when it is a trusted proxy, the right-most address of
    ``forwarded_for`` (the ``X-Forwarded-For`` value; several headers joined with commas) that is not."""
    from campaigns.core.settings import get_settings

    networks = parse_trusted_proxies((settings or get_settings()).trusted_proxies)
    direct = _address(peer)
    if direct is None:  # not an IP (a test client's name, a unix socket): kept as given, never trusted
        text = (peer or "").strip()
        return text[:MAX_LENGTH] if text else UNKNOWN
    if not networks or not forwarded_for or not _trusted(direct, networks):
        return str(direct)[:MAX_LENGTH]
    for entry in reversed(forwarded_for.split(",")):
        hop = _address(entry)
        if hop is None:
            continue
        if not _trusted(hop, networks):
            return str(hop)[:MAX_LENGTH]
        direct = hop  # a trusted proxy: its own client is the next entry to the left
    return str(direct)[:MAX_LENGTH]  # every hop is a trusted proxy: the left-most is where it started


def limits_apply(address: str | None) -> bool:
    """Whether per-address limits (signing's flood control, proposals and co-sponsor offers) apply to an address
    :func:`client_address` gave: a real client address, not ``"unknown"`` and not loopback (this machine: a
    developer's own browser, or a proxy on it that is not in RALLY_TRUSTED_PROXIES, behind which every visitor
    would share one address and be limited together)."""
    if not address or address == UNKNOWN:
        return False
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def keep_tcp_peer() -> None:
    """Stop uvicorn from replacing the TCP peer with an ``X-Forwarded-For`` address (and the scheme with
    ``X-Forwarded-Proto``), so that :func:`client_address` is the only rule.

    uvicorn wraps the app in its ``ProxyHeadersMiddleware`` after importing it (``uvicorn rally_app:app``,
    ``streamlit run rally_app.py`` and gunicorn's uvicorn worker alike), looking the class up in
    ``uvicorn.config`` at that moment; this makes that wrapper hand back the app untouched. The same as
    ``--no-proxy-headers``, without depending on every launcher passing it.
    """
    try:
        import uvicorn.config
    except ImportError:  # served by another ASGI server: it rewrites nothing unless told to
        return
    uvicorn.config.ProxyHeadersMiddleware = _no_proxy_headers  # type: ignore[assignment,misc]  # a function in place of the class, on purpose


def _no_proxy_headers(app: object, trusted_hosts: object = None) -> object:
    return app
