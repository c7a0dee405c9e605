"""Which host names a request may carry for Rally to build links on it: the allow-list, ``RALLY_ALLOWED_HOSTS``.

Without ``RALLY_PUBLIC_URL``, links (on pages and in the emails a request sends) are built on the address the
visitor used. That address comes from the request (the browser's URL, or its ``Host`` header), which anyone
can write by hand: a forged ``Host: evil.example`` would otherwise put another site in a "Your data" link
mailed to someone else. So only a host in the allow-list counts: names (``rally.example.org``), a whole domain's
subdomains (``*.example.org``, not the domain itself), IPv4 and IPv6 addresses; never a port, which may be any.
The host of ``RALLY_PUBLIC_URL``, when set, is always allowed. :func:`request_origin` is the one check.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the settings module imports this one to check RALLY_ALLOWED_HOSTS at load
    from campaigns.core.settings import Settings

DEFAULT_ALLOWED_HOSTS = "localhost, 127.0.0.1, ::1"
_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def _address(text: str) -> str | None:
    try:
        return ipaddress.ip_address(text.strip("[]")).compressed
    except ValueError:
        return None


@lru_cache(maxsize=16)
def parse_allowed_hosts(value: str) -> tuple[str, ...]:
    """The entries of a RALLY_ALLOWED_HOSTS value, lower-cased; ValueError naming the first that is not a host."""
    hosts = []
    for entry in value.split(","):
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        address = _address(entry)
        if address is not None:
            hosts.append(address)
        elif _NAME.fullmatch(entry) and len(entry) <= 253:
            hosts.append(entry)
        else:
            hint = " (a port is not needed: any port is allowed)" if ":" in entry else ""
            raise ValueError(
                f"“{entry[:80]}” is not a host name or an address{hint}: use forms like rally.example.org, "
                "*.example.org, 192.0.2.7 or ::1"
            )
    return tuple(hosts)


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The hosts links may be built on: RALLY_ALLOWED_HOSTS, and RALLY_PUBLIC_URL's host."""
    hosts = parse_allowed_hosts(settings.allowed_hosts)
    public = urlsplit(settings.public_url).hostname
    return (*hosts, public.lower()) if public else hosts


def is_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` (a bare name or address, no port) is one of ``allowed``."""
    host = host.lower().rstrip(".")
    host = _address(host) or host
    for entry in allowed:
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:]) and len(host) > len(entry) - 1):
            return True
    return False


def _origin(scheme: str, netloc: str, allowed: tuple[str, ...]) -> str | None:
    """``scheme://host[:port]`` of ``netloc``, if it is well formed and its host allowed."""
    if scheme not in ("http", "https") or not netloc or len(netloc) > 300:
        return None
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None or parts.path or parts.query:
        return None
    if not is_allowed(host, allowed):
        return None
    shown = f"[{_address(host)}]" if ":" in host else host.lower()
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def request_origin(
    settings: Settings, *, url: str | None = None, host: str | None = None, scheme: str = "http"
) -> str | None:
    """The origin (``scheme://host[:port]``) a request was sent to, if its host is allowed, else None.

    ``url``: the address the browser shows (its scheme and host are used, the path is not); ``host``: the
    request's ``Host`` header, with ``scheme`` (what the connection was). The first one that is allowed wins.
    """
    allowed = allowed_hosts(settings)
    if url:
        parts = urlsplit(url.strip())
        found = _origin(parts.scheme.lower(), parts.netloc, allowed)
        if found:
            return found
    if host:
        return _origin(scheme, host.strip(), allowed)
    return None
