"""Install a Vosk model from a zip file, an unpacked folder or a URL, checked before use.

Models live in ``<data_dir>/models/<name>``; ``<data_dir>/models/current`` is a symlink to the
one in use (``HOTLINE_VOSK_MODEL`` overrides it). A model is checked for completeness, for the
known models against the published git blob ids of its weight files, and by loading it in a
child process (a broken model can abort the process that loads it) before it is switched in.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from asr.engine import check_model_folder, model_name
from core.settings import Settings

CURRENT = "current"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Git blob ids of the weight files of the published Chinese models (../shared/models/README.md).
KNOWN_MODELS: dict[str, dict[str, str]] = {
    "vosk-model-small-cn-0.22": {
        "am/final.mdl": "f7cf1de81a9b41dc310a8f7012720b8d69033a10",
        "graph/Gr.fst": "ee4580d20e58fcd986d5a289dcab57dd21367eff",
        "graph/HCLr.fst": "2ad6e8f7b9d611040ffbe77a29c0a23ec5f27447",
        "ivector/final.ie": "e1d78a203c476104e9b35a2bd93f3f48ce3b6294",
    },
}
CHINESE_MODELS = frozenset(KNOWN_MODELS) | {"vosk-model-cn-0.22"}


class ModelInstallError(RuntimeError):
    pass


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size_bytes: int
    verified_files: tuple[str, ...]


def models_dir(settings: Settings) -> Path:
    return settings.data_dir / "models"


def active_model(settings: Settings) -> Path | None:
    """The model folder in use: the setting, else the installed current one, else None."""
    if settings.vosk_model is not None:
        return settings.vosk_model
    link = models_dir(settings) / CURRENT
    return link.resolve() if link.is_dir() else None


def is_chinese(path: Path) -> bool:
    return model_name(path) in CHINESE_MODELS or "-cn-" in model_name(path)


def git_blob_id(path: Path) -> str:
    """What ``git hash-object FILE`` prints."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_known(root: Path, name: str) -> tuple[str, ...]:
    """Check a known model's weights against their published identities; the files checked."""
    expected = KNOWN_MODELS.get(name, {})
    for relative, blob in expected.items():
        actual = git_blob_id(root / relative)
        if actual != blob:
            raise ModelInstallError(
                f"{name}: {relative} does not match the published model (git blob {actual}, "
                f"expected {blob}); the file is damaged or not the official one"
            )
    return tuple(expected)


def install(source: str, settings: Settings) -> InstalledModel:
    target_dir = models_dir(settings)
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".incoming-", dir=target_dir) as tmp:
        staging = Path(tmp)
        root, name = _unpack(source, staging)
        if not NAME.match(name) or name == CURRENT:
            raise ModelInstallError(f"unusable model name {name!r}")
        missing = check_model_folder(root)
        if missing:
            raise ModelInstallError(
                f"{source} is not a complete Vosk model: missing " + ", ".join(missing)
            )
        verified = verify_known(root, name)
        _try_loading(root)
        final = target_dir / name
        if final.exists():
            shutil.rmtree(staging / ".previous", ignore_errors=True)
            final.rename(staging / ".previous")  # removed with the staging folder
        root.rename(final)
    _point_current(target_dir, name)
    size = sum(f.stat().st_size for f in final.rglob("*") if f.is_file())
    return InstalledModel(name=name, path=final, size_bytes=size, verified_files=verified)


def _unpack(source: str, staging: Path) -> tuple[Path, str]:
    """Bring the source into ``staging``; return the model's root folder and its name."""
    scheme = urllib.parse.urlparse(source).scheme
    if scheme in ("http", "https"):
        filename = Path(urllib.parse.urlparse(source).path).name or "model.zip"
        archive = staging / filename
        try:
            with urllib.request.urlopen(source, timeout=60) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except OSError as exc:
            raise ModelInstallError(f"could not download {source}: {exc}") from exc
        return _unzip(archive, staging)
    if scheme not in ("", "file"):
        raise ModelInstallError(
            f"unsupported source {source!r}: give a zip file, a folder or an http(s) URL"
        )
    path = Path(urllib.parse.urlparse(source).path if scheme == "file" else source)
    if path.is_dir():
        copy = staging / "copy" / model_name(path.resolve())
        shutil.copytree(path, copy, symlinks=False)
        return copy, copy.name
    if path.is_file():
        return _unzip(path, staging)
    raise ModelInstallError(f"{source}: no such file or folder")


def _unzip(archive: Path, staging: Path) -> tuple[Path, str]:
    if not zipfile.is_zipfile(archive):
        raise ModelInstallError(f"{archive.name} is not a zip file")
    out = staging / "unzipped"
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                parts = Path(member.filename).parts
                if member.filename.startswith("/") or ".." in parts:
                    raise ModelInstallError(
                        f"{archive.name} holds an unsafe path: {member.filename!r}"
                    )
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ModelInstallError(
                        f"{archive.name} holds a symbolic link: {member.filename!r}"
                    )
            bundle.extractall(out)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelInstallError(f"{archive.name} is damaged: {exc}") from exc
    roots = sorted(p.parent.parent for p in out.glob("**/am/final.mdl"))
    if len(roots) != 1:
        found = "no" if not roots else "more than one"
        raise ModelInstallError(f"{archive.name} holds {found} Vosk model (am/final.mdl)")
    root = roots[0]
    name = root.name if root != out else archive.name.removesuffix(".zip")
    return root, name


def _try_loading(root: Path) -> None:
    probe = "import sys, vosk; vosk.SetLogLevel(-1); vosk.Model(sys.argv[1]); print('loaded')"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0 or "loaded" not in done.stdout:
        detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ModelInstallError(f"Vosk cannot load the model: {detail}")


def _point_current(target_dir: Path, name: str) -> None:
    link = target_dir / CURRENT
    temporary = target_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(name)
    temporary.replace(link)
