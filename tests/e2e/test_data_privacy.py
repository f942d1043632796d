"""End to end: after a real call, nothing in the data folder (recordings, the database and its
WAL, Asterisk's CDR and logs, the services' logs) is open to group or others."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core import privacy
from hotline import provision
from tests.conftest import SAMPLES
from tests.e2e.conftest import Hotline

pytestmark = pytest.mark.asterisk

CLIP = SAMPLES / "aishell2_IT0011W0001.wav"


def shared_entries(root: Path) -> list[str]:
    """Every file or folder below ``root`` (and itself) that group or others may use."""
    found = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        for path in [here] * (here == root) + [here / name for name in subfolders + files]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root.parent)}")
    return found


def test_after_a_call_the_data_folder_is_private_to_the_service(hotline: Hotline) -> None:
    caller = "13900000099"
    result = hotline.dial(CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3)
    assert result.sipp_exit == 0, result.output
    call = hotline.wait_call(caller)
    stored = hotline.recording_of(call)
    assert stored is not None

    data = hotline.settings.data_dir
    recording = hotline.settings.recordings_dir / stored.path
    written = [
        recording,
        data / "hotline.db",
        data / "hotline.db-wal",
        hotline.dirs.cdr_csv,
        hotline.dirs.log / "messages.log",
        hotline.settings.log_dir / "ivr.log",
    ]
    assert [path for path in written if not path.exists()] == []
    assert shared_entries(data) == []


def test_setup_takes_group_and_other_access_off_an_existing_data_folder(
    hotline: Hotline, tmp_path: Path
) -> None:
    """A data folder made before this rule (0755 folders, 0644 files) is corrected."""
    old = tmp_path / "data"
    (old / "recordings" / "2026" / "01").mkdir(parents=True, mode=0o755)
    for folder in [old, *old.rglob("*")]:
        folder.chmod(0o755)
    wav = old / "recordings" / "2026" / "01" / "a.wav"
    wav.write_bytes(b"RIFF")
    wav.chmod(0o644)
    (old / "hotline.db").write_bytes(b"")
    (old / "hotline.db").chmod(0o644)
    (old / "link").symlink_to("/etc/hostname")
    assert len(shared_entries(old)) == 6

    assert privacy.make_private(old) == 6
    assert shared_entries(old) == []
    assert stat.S_IMODE(wav.stat().st_mode) == 0o600
    assert stat.S_IMODE((old / "recordings").stat().st_mode) == 0o700
    assert stat.S_IMODE(Path("/etc/hostname").stat().st_mode) & 0o044, "links not followed"

    # set-up (and 'hotline up', which runs it) does the same to the live data folder
    data = hotline.settings.data_dir
    data.chmod(0o755)
    hotline.settings.recordings_dir.chmod(0o755)
    provision.prepare(hotline.settings)
    assert shared_entries(data) == []
