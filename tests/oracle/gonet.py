"""Go's net.IP / net.IPNet arithmetic and k8s.io/utils' ParseCIDRSloppy, for the oracle.

Kubernetes 1.35 vendors k8s.io/utils v0.0.0-20251002143259-bc988d571ff4, whose
net/parse.go defines ParseCIDRSloppy as internal/third_party/forked/golang/net.ParseCIDR:
Go 1.16's net.ParseCIDR (which still accepted leading zeros in IPv4 octets), forked.
Mirrored here from that fork (ip.go: parseIPv4, parseIPv6, ParseCIDR; parse.go: dtoi,
xtoi) and from Go's net package (IP.Mask, IPNet.Contains, networkNumberAndMask,
CIDRMask, IPMask.Size). IPs are bytes objects of length 4 or 16, as Go's net.IP is.
"""

from __future__ import annotations

IPV4LEN = 4
IPV6LEN = 16
BIG = 0xFFFFFF
V4_IN_V6_PREFIX = bytes([0] * 10 + [0xFF, 0xFF])


def dtoi(s: bytes):
    """Decimal to integer (forked parse.go dtoi): (n, i, ok)."""
    n = 0
    i = 0
    while i < len(s) and 0x30 <= s[i] <= 0x39:
        n = n * 10 + (s[i] - 0x30)
        if n >= BIG:
            return BIG, i, False
        i += 1
    if i == 0:
        return 0, 0, False
    return n, i, True


def xtoi(s: bytes):
    """Hexadecimal to integer (forked parse.go xtoi): (n, i, ok)."""
    n = 0
    i = 0
    while i < len(s):
        c = s[i]
        if 0x30 <= c <= 0x39:
            n = n * 16 + (c - 0x30)
        elif 0x61 <= c <= 0x66:
            n = n * 16 + (c - 0x61) + 10
        elif 0x41 <= c <= 0x46:
            n = n * 16 + (c - 0x41) + 10
        else:
            break
        if n >= BIG:
            return 0, i, False
        i += 1
    if i == 0:
        return 0, i, False
    return n, i, True


def ipv4(a, b, c, d) -> bytes:
    # net.IPv4 returns the 16-byte form.
    return V4_IN_V6_PREFIX + bytes([a, b, c, d])


def parse_ipv4(s: bytes):
    """forked ip.go parseIPv4: leading zeros allowed (the Go 1.17 check is commented out)."""
    p = []
    for i in range(IPV4LEN):
        if len(s) == 0:
            return None
        if i > 0:
            if s[0:1] != b".":
                return None
            s = s[1:]
        n, c, ok = dtoi(s)
        if not ok or n > 0xFF:
            return None
        s = s[c:]
        p.append(n)
    if len(s) != 0:
        return None
    return ipv4(*p)


def parse_ipv6(s: bytes):
    """forked ip.go parseIPv6 (no zone)."""
    ip = bytearray(IPV6LEN)
    ellipsis = -1
    if len(s) >= 2 and s[0:1] == b":" and s[1:2] == b":":
        ellipsis = 0
        s = s[2:]
        if len(s) == 0:
            return bytes(ip)
    i = 0
    while i < IPV6LEN:
        n, c, ok = xtoi(s)
        if not ok or n > 0xFFFF:
            return None
        if c < len(s) and s[c : c + 1] == b".":
            if ellipsis < 0 and i != IPV6LEN - IPV4LEN:
                return None
            if i + IPV4LEN > IPV6LEN:
                return None
            ip4 = parse_ipv4(s)
            if ip4 is None:
                return None
            ip[i : i + 4] = ip4[12:16]
            s = b""
            i += IPV4LEN
            break
        ip[i] = n >> 8
        ip[i + 1] = n & 0xFF
        i += 2
        s = s[c:]
        if len(s) == 0:
            break
        if s[0:1] != b":" or len(s) == 1:
            return None
        s = s[1:]
        if s[0:1] == b":":
            if ellipsis >= 0:
                return None
            ellipsis = i
            s = s[1:]
            if len(s) == 0:
                break
    if len(s) != 0:
        return None
    if i < IPV6LEN:
        if ellipsis < 0:
            return None
        n = IPV6LEN - i
        for j in range(i - 1, ellipsis - 1, -1):
            ip[j + n] = ip[j]
        for j in range(ellipsis + n - 1, ellipsis - 1, -1):
            ip[j] = 0
    elif ellipsis >= 0:
        return None
    return bytes(ip)


def cidr_mask(ones: int, bits: int) -> bytes:
    """net.CIDRMask."""
    m = bytearray(bits // 8)
    n = ones
    for i in range(len(m)):
        if n >= 8:
            m[i] = 0xFF
            n -= 8
            continue
        m[i] = (~(0xFF >> n)) & 0xFF
        n = 0
    return bytes(m)


def all_ff(b: bytes) -> bool:
    return all(c == 0xFF for c in b)


def ip_mask(ip: bytes, mask: bytes):
    """net.IP.Mask."""
    if len(mask) == IPV6LEN and len(ip) == IPV4LEN and all_ff(mask[:12]):
        mask = mask[12:]
    if len(mask) == IPV4LEN and len(ip) == IPV6LEN and ip[:12] == V4_IN_V6_PREFIX:
        ip = ip[12:]
    if len(ip) != len(mask):
        return None
    return bytes(a & b for a, b in zip(ip, mask))


def to4(ip: bytes):
    """net.IP.To4."""
    if len(ip) == IPV4LEN:
        return ip
    if len(ip) == IPV6LEN and ip[:12] == V4_IN_V6_PREFIX:
        return ip[12:16]
    return None


class IPNet:
    def __init__(self, ip: bytes, mask: bytes):
        self.ip = ip
        self.mask = mask

    def size(self):
        """net.IPMask.Size: (ones, bits); CIDRMask results are always canonical."""
        ones = 0
        for b in self.mask:
            if b == 0xFF:
                ones += 8
                continue
            while b & 0x80:
                ones += 1
                b = (b << 1) & 0xFF
            break
        return ones, len(self.mask) * 8

    def _network_number_and_mask(self):
        ip = to4(self.ip)
        if ip is None:
            ip = self.ip
            if len(ip) != IPV6LEN:
                return None, None
        m = self.mask
        if len(m) == IPV4LEN:
            if len(ip) != IPV4LEN:
                return None, None
        elif len(m) == IPV6LEN:
            if len(ip) == IPV4LEN:
                m = m[12:]
        else:
            return None, None
        return ip, m

    def contains(self, ip: bytes) -> bool:
        """net.IPNet.Contains."""
        nn, m = self._network_number_and_mask()
        x = to4(ip)
        if x is not None:
            ip = x
        if nn is None or len(ip) != len(nn):
            return False
        return all((nn[i] & m[i]) == (ip[i] & m[i]) for i in range(len(ip)))


def parse_cidr_sloppy(s: str):
    """forked ip.go ParseCIDR: returns (ip, IPNet) or None."""
    b = s.encode("utf-8", "surrogatepass")
    i = b.find(b"/")
    if i < 0:
        return None
    addr, mask = b[:i], b[i + 1 :]
    iplen = IPV4LEN
    ip = parse_ipv4(addr)
    if ip is None:
        iplen = IPV6LEN
        ip = parse_ipv6(addr)
    n, j, ok = dtoi(mask)
    if ip is None or not ok or j != len(mask) or n < 0 or n > 8 * iplen:
        return None
    m = cidr_mask(n, 8 * iplen)
    return ip, IPNet(ip_mask(ip, m), m)
