"""The file store: uploaded files on disk, each named by its SHA-256 (``ab/abcdef…``),
never by a name a user chose. A file is written to a temporary name and renamed into place
once complete, so a reader never sees half of one; the same content is kept once."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from civicgrid.domain.errors import TooLarge

#: Bytes read at a time while copying an upload in.
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Incoming:
    """A file received into the store's incoming folder, not yet kept."""

    path: Path
    sha256: str
    size: int


class FileStore:
    """Files under ``root``, by content."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file with this SHA-256 is (or would be) kept."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def receive(self, source: BinaryIO, max_bytes: int) -> Incoming:
        """Copy ``source`` into the incoming folder, hashing it on the way; ``TooLarge`` (and
        nothing left behind) as soon as it passes ``max_bytes``."""
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        descriptor, name = tempfile.mkstemp(dir=incoming)
        try:
            with os.fdopen(descriptor, "wb") as target:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(
                            f"a file may be at most {max_bytes:,} bytes ({max_bytes / 2**20:g} MB)"
                        )
                    digest.update(chunk)
                    target.write(chunk)
        except BaseException:
            os.unlink(name)
            raise
        return Incoming(Path(name), digest.hexdigest(), size)

    def keep(self, incoming: Incoming) -> bool:
        """Move a received file into place, durably; whether it is new to the store (the
        same content kept before is not written twice)."""
        target = self.path(incoming.sha256)
        if target.exists():
            incoming.path.unlink()
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        with incoming.path.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(incoming.path, target)
        return True

    def put(self, data: bytes) -> tuple[str, bool]:
        """Keep ``data`` (a thumbnail): its SHA-256, and whether it is new to the store."""
        incoming = self.receive(BytesIO(data), len(data))
        return incoming.sha256, self.keep(incoming)

    def discard(self, incoming: Incoming) -> None:
        """Drop a received file that is not kept."""
        incoming.path.unlink(missing_ok=True)

    def remove(self, sha256: str) -> None:
        """Delete a kept file (one just written for a request that then failed)."""
        self.path(sha256).unlink(missing_ok=True)
