"""A small DER/BER reader and writer for the parts of PKCS#12 (RFC 7292) we inspect or rewrite.

Reading accepts BER's indefinite lengths and constructed OCTET STRINGs (Windows writes them);
writing produces DER. Malformed input raises ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    tag: int
    constructed: bool
    content: bytes
    children: list[Node] = field(default_factory=list)

    def octets(self) -> bytes:
        """An OCTET STRING's bytes, joining BER's constructed pieces (Windows writes those)."""
        return b"".join(c.octets() for c in self.children) if self.constructed else self.content


def parse(data: bytes, pos: int = 0, depth: int = 0) -> tuple[Node, int]:
    if depth > 40 or pos + 2 > len(data):
        raise ValueError("truncated or too deeply nested ASN.1")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not used in PKCS#12")
    constructed = bool(tag & 0x20)
    length = data[pos + 1]
    pos += 2
    if length == 0x80:  # BER indefinite length: children until end-of-contents
        if not constructed:
            raise ValueError("indefinite length on a primitive value")
        node = Node(tag, True, b"")
        while data[pos:pos + 2] != b"\x00\x00":
            child, pos = parse(data, pos, depth + 1)
            node.children.append(child)
            if pos >= len(data):
                raise ValueError("unterminated indefinite length")
        return node, pos + 2
    if length & 0x80:
        n = length & 0x7F
        if n > 4 or pos + n > len(data):
            raise ValueError("bad ASN.1 length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    end = pos + length
    if end > len(data):
        raise ValueError("truncated ASN.1 value")
    node = Node(tag, constructed, data[pos:end])
    if constructed:
        p = pos
        while p < end:
            child, p = parse(data[:end], p, depth + 1)
            node.children.append(child)
    return node, end


def oid(node: Node) -> str:
    if node.tag != 0x06 or not node.content:
        raise ValueError("expected an OBJECT IDENTIFIER")
    b = node.content
    arcs = [b[0] // 40 if b[0] < 80 else 2, b[0] - 40 * min(b[0] // 40, 2)]
    value = 0
    for byte in b[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def encode(tag: int, content: bytes) -> bytes:
    """One DER value: tag, definite length, content."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def integer(value: int) -> bytes:
    """A non-negative DER INTEGER."""
    if value < 0:
        raise ValueError("negative integers are not needed here")
    return encode(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


SEQUENCE = 0x30
OCTET_STRING = 0x04
