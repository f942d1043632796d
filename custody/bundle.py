"""A zip package that checks itself: every member listed in SHA256SUMS (the format of
``sha256sum``), with a short text on how to check it. Written to a temporary name and
renamed, so a package is either whole or absent."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recordings.store import sha256_file

SUMS = "SHA256SUMS"
README = "README.txt"


@dataclass(frozen=True)
class Member:
    name: str  # path inside the package, forward slashes, ASCII
    data: bytes | None = None
    source: Path | None = None
    sha256: str = ""  # of ``source``, when the caller has just checked it

    def digest(self) -> str:
        if self.sha256:
            return self.sha256
        if self.source is not None:
            return sha256_file(self.source)
        return hashlib.sha256(self.data or b"").hexdigest()


def sums_text(members: Sequence[Member]) -> str:
    return "".join(f"{m.digest()}  {m.name}\n" for m in sorted(members, key=lambda m: m.name))


def write(target: Path, folder: str, members: Sequence[Member], readme: str) -> str:
    """Write the package; returns the zip's own sha256."""
    names = [m.name for m in members]
    if len(set(names)) != len(names) or {SUMS, README} & set(names):
        raise ValueError(f"duplicate or reserved member names in {names}")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
    os.close(handle)
    temp = Path(temp_name)
    try:
        with zipfile.ZipFile(temp, "w") as archive:
            for member in members:
                arcname = f"{folder}/{member.name}"
                if member.source is not None:
                    archive.write(member.source, arcname, compress_type=zipfile.ZIP_STORED)
                else:
                    archive.writestr(arcname, member.data or b"", zipfile.ZIP_DEFLATED)
            archive.writestr(f"{folder}/{SUMS}", sums_text(members), zipfile.ZIP_DEFLATED)
            archive.writestr(f"{folder}/{README}", readme, zipfile.ZIP_DEFLATED)
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    return sha256_file(target)
