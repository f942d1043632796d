"""Files the tests keep for people to look at (screenshots), listed at the end of the run."""

from __future__ import annotations

from pathlib import Path

kept: list[Path] = []
