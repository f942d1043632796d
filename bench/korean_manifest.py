"""Write a manifest of Korean sentences spoken by espeak-ng, for the Korean stand-in model.

    .venv/bin/python bench/korean_manifest.py OUT_DIR

Writes OUT_DIR/manifest.tsv (``file<TAB>reference``) and one 16 kHz WAV per sentence.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

SENTENCES = (
    "안녕하세요 저는 서울에 살고 있습니다",
    "우리 동네 도로에 구멍이 생겼습니다",
    "밤마다 공사 소음 때문에 잠을 잘 수 없어요",
    "버스가 너무 늦게 와서 불편합니다",
    "쓰레기가 길에 쌓여 있어서 냄새가 납니다",
    "아파트 관리비가 갑자기 올랐습니다",
    "가로등이 고장 나서 밤에 너무 어둡습니다",
    "물이 나오지 않아서 생활이 어렵습니다",
    "학교 앞에서 차들이 너무 빨리 달립니다",
    "공원에 있는 의자가 부서졌습니다",
    "전화번호를 알려 주시면 연락드리겠습니다",
    "이 문제를 빨리 해결해 주시기 바랍니다",
    "시장 근처에 주차할 곳이 없습니다",
    "오늘 아침에 전기가 두 시간 동안 끊겼습니다",
    "병원 예약이 너무 어렵습니다",
    "식당에서 산 음식이 상했습니다",
    "회사에서 월급을 주지 않고 있습니다",
    "지하철역에 엘리베이터가 없습니다",
    "이웃집 개가 밤새 짖어서 힘듭니다",
    "감사합니다 좋은 하루 보내세요",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--speed", type=int, default=175, help="espeak-ng words per minute")
    args = parser.parse_args()
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["file\treference"]
    for index, sentence in enumerate(SENTENCES):
        raw, wav = out_dir / f"ko{index:02d}.raw.wav", out_dir / f"ko{index:02d}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "ko", "-s", str(args.speed), "-w", str(raw), sentence], check=True
        )
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True
        )
        raw.unlink()
        lines.append(f"{wav.name}\t{sentence}")
    (out_dir / "manifest.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(SENTENCES)} clips in {out_dir}")


if __name__ == "__main__":
    main()
