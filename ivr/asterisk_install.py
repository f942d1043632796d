"""Where Asterisk comes from: the host's own, or a Debian root bootstrapped into the cache.

Debian 12 has no Asterisk package, but the archive's ``sid`` suite carries Asterisk 22, so a
minimal root is bootstrapped once with ``debootstrap --include=asterisk`` and Asterisk runs in
it with ``chroot``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MIN_MAJOR = 20
BINARY = "/usr/sbin/asterisk"
PROVISIONED_MARKER = ".hotline-provisioned"
DEVICES = {"null": (1, 3), "zero": (1, 5), "random": (1, 8), "urandom": (1, 9)}


class AsteriskInstallError(RuntimeError):
    pass


@dataclass(frozen=True)
class AsteriskInstall:
    root: Path
    version: str
    modules_dir: str

    @property
    def chrooted(self) -> bool:
        return self.root != Path("/")

    def command(self, *args: str) -> list[str]:
        if self.chrooted:
            return ["chroot", str(self.root), BINARY, *args]
        return [BINARY, *args]


def parse_major(version_output: str) -> int | None:
    match = re.search(r"Asterisk\s+(\d+)\.", version_output)
    return int(match.group(1)) if match else None


def _probe(root: Path) -> AsteriskInstall | None:
    binary = root / BINARY.lstrip("/")
    if not binary.exists():
        return None
    cmd = [BINARY, "-V"] if root == Path("/") else ["chroot", str(root), BINARY, "-V"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    major = parse_major(result.stdout)
    if major is None or major < MIN_MAJOR:
        log.warning(
            "ignoring Asterisk at %s: %r (need %d or newer)", root, result.stdout, MIN_MAJOR
        )
        return None
    return AsteriskInstall(root=root, version=result.stdout.strip(), modules_dir=_modules_dir(root))


def _modules_dir(root: Path) -> str:
    for candidate in [
        *sorted(root.glob("usr/lib/*/asterisk/modules")),
        root / "usr/lib/asterisk/modules",
    ]:
        if (candidate / "chan_pjsip.so").exists():
            return "/" + str(candidate.relative_to(root))
    raise AsteriskInstallError(f"no Asterisk modules folder with chan_pjsip.so under {root}")


def default_root(cache_dir: Path) -> Path:
    return cache_dir / "asterisk-root"


def find(configured_root: Path | None, cache_dir: Path) -> AsteriskInstall | None:
    """The configured root, else the host's Asterisk, else a provisioned root in the cache."""
    if configured_root is not None:
        return _probe(configured_root)
    host = _probe(Path("/"))
    if host is not None:
        return host
    root = default_root(cache_dir)
    if (root / PROVISIONED_MARKER).exists():
        return _probe(root)
    return None


def provision(cache_dir: Path, suite: str, mirror: str) -> AsteriskInstall:
    """Bootstrap a minimal Debian root holding Asterisk. Idempotent; atomic on success."""
    root = default_root(cache_dir)
    if (root / PROVISIONED_MARKER).exists():
        found = _probe(root)
        if found is not None:
            return found
    if shutil.which("debootstrap") is None:
        raise AsteriskInstallError("debootstrap is not installed (apt-get install debootstrap)")
    staging = root.with_name(root.name + ".partial")
    for leftover in (staging, root):
        if leftover.exists():
            _remove_tree(leftover)
    staging.parent.mkdir(parents=True, exist_ok=True)
    log.info("bootstrapping Debian %s with Asterisk into %s", suite, root)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        "--include=asterisk",
        suite,
        str(staging),
        mirror,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise AsteriskInstallError(f"debootstrap failed ({result.returncode}):\n{tail}")
    ensure_devices(staging)
    staging.rename(root)
    found = _probe(root)
    if found is None:
        raise AsteriskInstallError(f"Asterisk {MIN_MAJOR}+ not found after bootstrapping {root}")
    (root / PROVISIONED_MARKER).write_text(found.version + "\n", encoding="utf-8")
    return found


def ensure_devices(root: Path) -> None:
    """debootstrap's minimal /dev lacks some nodes Asterisk opens (urandom)."""
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    for name, (major, minor) in DEVICES.items():
        node = dev / name
        if node.exists():
            continue
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(node, 0o666)


def _remove_tree(path: Path) -> None:
    # A bind mount left behind by a crashed run must not be followed into the data folder.
    for mount in mounts_below(path):
        subprocess.run(["umount", "-l", str(mount)], check=False)
    shutil.rmtree(path)


def mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return [line.split()[4].replace("\\040", " ") for line in handle]


def is_mount_point(path: Path) -> bool:
    """Unlike os.path.ismount, this sees bind mounts within one filesystem."""
    return str(path.resolve()) in mount_points()


def mounts_below(path: Path) -> list[Path]:
    """Mount points under ``path`` (not ``path`` itself), deepest first."""
    prefix = str(path.resolve()).rstrip("/") + "/"
    found = [Path(p) for p in mount_points() if p.startswith(prefix)]
    return sorted(found, key=lambda p: len(str(p)), reverse=True)
