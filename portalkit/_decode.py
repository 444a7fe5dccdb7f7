"""Decompressing a vendor's answer within the body limit.

httpx decodes ``Content-Encoding`` a whole network chunk at a time: one 64 KiB chunk of a
gzip bomb becomes 64 MiB before anyone can count it, and ``gzip, gzip`` multiplies that
again. portalkit therefore reads the raw bytes and decodes them itself, each layer asked
for at most ``CHUNK`` bytes at a time (``decompressobj.decompress(data, max_length)``), so
the decoded bytes count against ``max_response_bytes`` as they are produced and the work
stops as soon as the limit is passed. Peak memory stays near the limit plus a chunk per
layer, whatever the ratio.

portalkit asks for ``Accept-Encoding: gzip, deflate`` (what it can decode so), and refuses
an answer in any other encoding (``br``, ``zstd``, an unknown one) as ``InvalidResponse``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

#: What portalkit asks vendors for, and all it decodes.
ACCEPT_ENCODING = "gzip, deflate"
#: The most decoded bytes one layer hands on at a time.
CHUNK = 64 * 1024
#: More layers than any real answer uses ("gzip, gzip" is already odd).
MAX_LAYERS = 4

_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class UnsupportedEncoding(ValueError):
    """The answer's Content-Encoding is not one portalkit asked for."""


class DecodeFailed(ValueError):
    """The body does not decode as its Content-Encoding says."""


def encodings(header: str | None) -> list[str]:
    """The encodings of a ``Content-Encoding`` value, in the order they were applied,
    without ``identity``. Raises ``UnsupportedEncoding`` for any other than gzip/deflate."""
    if not header:
        return []
    found = [part.strip().lower() for part in header.split(",")]
    found = [name for name in found if name and name != "identity"]
    if len(found) > MAX_LAYERS or any(name not in _WBITS for name in found):
        raise UnsupportedEncoding
    return found


class _Layer:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.started = False
        self.decoder = zlib.decompressobj(_WBITS[encoding])

    def decompress(self, data: bytes) -> bytes:
        try:
            out = self.decoder.decompress(data, CHUNK)
        except zlib.error:
            if self.encoding != "deflate" or self.started:
                raise DecodeFailed from None
            # "deflate" is sent both zlib-wrapped (as the RFC says) and raw (as some servers
            # do); httpx accepts both, and so does portalkit.
            self.decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                out = self.decoder.decompress(data, CHUNK)
            except zlib.error:
                raise DecodeFailed from None
        self.started = True
        return out


class BoundedDecoder:
    """Decodes a chain of encodings, never handing on more than ``CHUNK`` bytes at once."""

    def __init__(self, applied: list[str]) -> None:
        # Applied first is undone last.
        self._layers = [_Layer(encoding) for encoding in reversed(applied)]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes for ``data``, a chunk at a time. A caller that stops iterating
        (the limit is passed) stops the decoding too."""
        return self._through(0, data)

    def _through(self, level: int, data: bytes) -> Iterator[bytes]:
        if level == len(self._layers):
            if data:
                yield data
            return
        layer = self._layers[level]
        while True:
            if layer.decoder.eof:
                return  # anything after the end of the stream is ignored, as httpx does
            out = layer.decompress(data)
            data = layer.decoder.unconsumed_tail
            if out:
                yield from self._through(level + 1, out)
            if not data and len(out) < CHUNK:
                return
