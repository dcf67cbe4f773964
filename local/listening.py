"""Where the local stack listens, and the address a phone on the same network puts in its URLs.

By default moto's server and the API listen on 127.0.0.1: nothing else on the network reaches them.
`up --listen ADDRESS` (a LAN address, or 0.0.0.0 for all) lets a phone open the driver's page; its
URLs (the page's, the presigned photo forms', Cognito's) must then name an address the phone can
reach, `--public-host`, found from the machine's own route when not given. The model endpoint and the
functions stay on 127.0.0.1: only this machine calls them.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from local.processes import HOST

ANY = "0.0.0.0"
# A documentation address (RFC 5737): connecting a UDP socket to it sends nothing, but picks the
# interface, hence the address, this machine would use on its network.
_PROBE = ("192.0.2.1", 9)


class NoNetworkAddress(ValueError):
    """0.0.0.0 was asked for, and this machine has no address on a network to put in the URLs."""


def listen_address(text: str) -> str:
    """An IPv4 address to listen on (0.0.0.0: every interface); ValueError naming the mistake."""
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 address (for example 0.0.0.0 or 192.168.1.20)") from None


def network_address() -> str | None:
    """This machine's address on its network (the one its default route uses), or None (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE)
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.IPv4Address(address).is_loopback else address


@dataclass(frozen=True)
class Listening:
    """The address the stack's servers bind, and the host its URLs name for a browser."""

    address: str = HOST
    public_host: str | None = None

    @property
    def exposed(self) -> bool:
        """Reachable from other machines: anything but loopback."""
        return not ipaddress.IPv4Address(self.address).is_loopback

    @property
    def local_host(self) -> str:
        """How this machine's own processes reach the servers."""
        return HOST if self.address == ANY else self.address

    @property
    def public(self) -> str:
        """The host a browser (a phone) uses: `public_host`, else the listen address (for 0.0.0.0,
        this machine's network address)."""
        if self.public_host:
            return self.public_host
        if self.address != ANY:
            return self.address
        found = network_address()
        if found is None:
            raise NoNetworkAddress(
                "this machine has no network address to give a phone; pass --public-host ADDRESS"
            )
        return found

    def resolved(self) -> Listening:
        """The same, with the public host found once (NoNetworkAddress when there is none)."""
        return Listening(self.address, self.public)

    def warning(self) -> str | None:
        """One line for a stack others can reach; None on loopback."""
        if not self.exposed:
            return None
        return (
            f"warning: listening on {self.address}: the local stack has no TLS and test credentials, "
            "and anyone on the network can reach it (its photos, its users, its AWS endpoint)"
        )
