"""Reading one file out of a Qt resource bundle (.rcc), as GCompris ships its pictures.

Layout (Qt's rcc format, versions 1-3): a 'qres' header with the offsets of a tree of nodes, of the
file data and of the names; each node names itself, and is a folder (children) or a file (data
offset); file data is stored plain, zlib-compressed (qCompress: a 4-byte length, then zlib) or,
from Qt 6, zstd-compressed.
"""

from __future__ import annotations

import struct
import zlib

MAGIC = b"qres"
FLAG_ZLIB = 0x01
FLAG_DIRECTORY = 0x02
FLAG_ZSTD = 0x04
MAX_FILE_BYTES = 256 << 20


class _Bundle:
    def __init__(self, blob: bytes) -> None:
        if blob[:4] != MAGIC:
            raise ValueError("not a Qt resource bundle (it does not start with 'qres')")
        self.blob = blob
        self.version, self.tree, self.data, self.names = struct.unpack(">IIII", self._slice(4, 16))
        if self.version not in (1, 2, 3):
            raise ValueError(f"Qt resource bundle version {self.version} is not supported")
        self.node_size = 14 if self.version == 1 else 22  # version 2 added a last-modified time

    def _slice(self, start: int, size: int) -> bytes:
        if start < 0 or size < 0 or start + size > len(self.blob):
            raise ValueError("the Qt resource bundle is truncated or damaged")
        return self.blob[start : start + size]

    def node(self, index: int) -> tuple[str, int, bytes]:
        """(name, flags, the 8 bytes after them) of a tree node."""
        raw = self._slice(self.tree + index * self.node_size, 14)
        name_offset, flags = struct.unpack(">IH", raw[:6])
        (length,) = struct.unpack(">H", self._slice(self.names + name_offset, 2))
        name = self._slice(self.names + name_offset + 6, 2 * length).decode("utf-16-be")  # after a 4-byte hash
        return name, flags, raw[6:14]

    def find(self, path: str) -> int:
        index = 0  # the root
        for part in path.strip("/").split("/"):
            _, flags, rest = self.node(index)
            if not flags & FLAG_DIRECTORY:
                raise KeyError(path)
            count, first = struct.unpack(">II", rest)
            index = next((first + i for i in range(count) if self.node(first + i)[0] == part), -1)
            if index < 0:
                raise KeyError(path)
        return index

    def read(self, path: str) -> bytes:
        _, flags, rest = self.node(self.find(path))
        if flags & FLAG_DIRECTORY:
            raise KeyError(f"{path} is a folder")
        (offset,) = struct.unpack(">I", rest[4:8])  # after the country and language codes
        (size,) = struct.unpack(">I", self._slice(self.data + offset, 4))
        stored = self._slice(self.data + offset + 4, size)
        if flags & FLAG_ZLIB:
            inflater = zlib.decompressobj()
            data = inflater.decompress(stored[4:], MAX_FILE_BYTES)
            if inflater.unconsumed_tail:
                raise ValueError(f"{path} inflates to more than {MAX_FILE_BYTES >> 20} MB")
            return data
        if flags & FLAG_ZSTD:
            try:
                import zstandard
            except ImportError:
                raise ValueError(f"{path} is zstd-compressed: install the Python module zstandard") from None
            return zstandard.ZstdDecompressor().decompress(stored, max_output_size=MAX_FILE_BYTES)
        return stored


def read_resource(bundle: bytes, path: str) -> bytes:
    """The contents of the file at `path` ("folder/name.webp") inside an .rcc bundle; KeyError if absent."""
    return _Bundle(bundle).read(path)
