"""Names and addresses of this machine, to pre-fill a classroom server certificate."""

from __future__ import annotations

import ipaddress
import socket

LOCAL = ["localhost", "127.0.0.1", "::1"]


def this_machine_hosts() -> list[str]:
    """``localhost``, the loopback addresses, this machine's host name and the addresses it resolves to.

    Only name look-ups of this machine's own name: nothing is sent to the network.
    """
    hosts = list(LOCAL)
    try:
        name = socket.gethostname()
    except OSError:
        return hosts
    candidates = [name]
    try:
        fqdn = socket.getfqdn(name)
        if fqdn and fqdn != name:
            candidates.append(fqdn)
        for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP):
            candidates.append(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    for host in candidates:
        host = host.strip().lower()
        if not host or host in hosts:
            continue
        try:
            if ipaddress.ip_address(host).is_loopback:
                continue
        except ValueError:
            if "." not in host and not host.replace("-", "").isalnum():
                continue
        hosts.append(host)
    return hosts
