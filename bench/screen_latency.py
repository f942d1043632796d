"""Benchmark: end of an utterance -> its text on the operator's screen.

Runs a private hotline (real Asterisk, ivr, live stream listener with Whisper base, API) and
an operator phone (8001) that answers and speaks Mandarin. The operator's call page is open
in Debian's Chromium; a MutationObserver installed before the page's own script records
``Date.now()`` when each live ``li.utterance[data-final="1"]`` is added (not the final
transcript's items, which replace them at the end). Each is compared with the utterance's
end: the call's recording start (``Call.recording_started_at``) + the LiveUtterance row's
``end``; the row's ``at`` splits it into recogniser (pause + decode) and delivery (database
-> SSE -> DOM). Only utterances stored after the page's event stream was open count.

    .venv/bin/python -m bench.screen_latency [--calls 2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from asr.live_models import LiveUtterance
from bench.calls import load_average, percentile, whisper_model
from bench.transcript_latency import mandarin_speech
from core.waiting import wait_for
from ivr import call_store
from ivr.models import Call
from phones.sipp import DialResult
from tests.builders import add_user
from tests.e2e.browser import chromium, logged_in
from tests.e2e.conftest import Hotline, start_hotline

OBSERVER = """
window.__seen = [];
new MutationObserver((mutations) => {
  const now = Date.now();
  for (const mutation of mutations) {
    for (const node of mutation.addedNodes) {
      if (node.nodeType === 1 && node.matches('li.utterance[data-final="1"]')
          && !node.dataset.source) {
        window.__seen.push({id: node.dataset.id, at: now, text: node.textContent});
      }
    }
  }
}).observe(document, {childList: true, subtree: true});
"""


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"median {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
        f"max {max(values):.2f} s (n={len(values)})"
    )


def answered_call(hotline: Hotline, caller: str, since: dt.datetime) -> Call:
    def answered() -> Call | None:
        with hotline.sessions() as session:
            call = call_store.latest_call_from(session, caller, since)
            return call if call is not None and call.answered_at is not None else None

    return wait_for(answered, 60, f"{caller}'s call to be answered", 0.05)


def dial_in_background(
    hotline: Hotline, audio: Path, caller: str
) -> tuple[threading.Thread, list[DialResult]]:
    results: list[DialResult] = []
    dialling = threading.Thread(
        target=lambda: results.append(
            hotline.dial(audio, caller, wait_seconds=hotline.notice_seconds + 0.3)
        )
    )
    dialling.start()
    return dialling, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rtp-base", type=int, default=39000)
    args = parser.parse_args()
    model = whisper_model()
    work = Path(tempfile.mkdtemp(prefix="hotline-screen-latency-"))
    print(f"start: {load_average()}", flush=True)
    hotline = start_hotline(
        work / "data", rtp_base=args.rtp_base, vosk_model=model, asr_live_capacity=2
    )
    screen: list[float] = []
    recogniser: list[float] = []
    delivery: list[float] = []
    try:
        add_user(hotline.sessions, "bench-op", "operator", phone="8001")
        audio = work / "audio"
        audio.mkdir()
        caller_audio = mandarin_speech(audio, args.seconds, "caller", 0)
        operator_audio = mandarin_speech(audio, args.seconds + 30, "operator", 5)
        base = f"http://127.0.0.1:{hotline.settings.api_port}"
        print(f"model {model}; {args.calls} calls of {args.seconds:.0f} s", flush=True)
        with chromium() as browser, hotline.operator_phone("8001", operator_audio):
            for index in range(args.calls):
                page = logged_in(browser, base, "bench-op")
                page.add_init_script(OBSERVER)
                since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
                caller = f"1890{dt.datetime.now(dt.UTC):%H%M%S}{index}"
                dialling, results = dial_in_background(hotline, caller_audio, caller)
                try:
                    call = answered_call(hotline, caller, since)
                    page.goto(f"{base}/calls/{call.id}")
                    panel = page.locator("#live-transcript")
                    expect(panel).to_have_attribute("data-state", "live", timeout=15_000)
                    opened = dt.datetime.now(dt.UTC)
                    expect(panel).to_have_attribute("data-state", "final", timeout=120_000)
                finally:
                    dialling.join(timeout=args.seconds + 120)
                seen = {str(s["id"]): float(s["at"]) for s in page.evaluate("window.__seen")}
                page.close()
                with hotline.sessions() as session:
                    settled = session.get(Call, call.id)
                    assert settled is not None and settled.recording_started_at is not None
                    rows = session.scalars(
                        select(LiveUtterance).where(
                            LiveUtterance.call_uniqueid == settled.asterisk_uniqueid,
                            LiveUtterance.final.is_(True),
                        )
                    ).all()
                    counted = 0
                    for row in rows:
                        if str(row.id) not in seen or row.at < opened:
                            continue
                        spoken = settled.recording_started_at + dt.timedelta(seconds=row.end)
                        shown = dt.datetime.fromtimestamp(seen[str(row.id)] / 1000, dt.UTC)
                        screen.append((shown - spoken).total_seconds())
                        recogniser.append((row.at - spoken).total_seconds())
                        delivery.append((shown - row.at).total_seconds())
                        counted += 1
                print(
                    f"call {index + 1}: {len(rows)} final utterances stored, {len(seen)} shown "
                    f"live, {counted} counted (stored after the page's stream opened); SIPp "
                    f"exit {results[0].sipp_exit if results else '?'}; {load_average()}",
                    flush=True,
                )
    finally:
        hotline.close()
    print(f"end of utterance -> text on the operator's screen: {spread(screen)}")
    print(f"  of which end of utterance -> row stored (recogniser): {spread(recogniser)}")
    print(f"  of which row stored -> on screen (database, SSE, DOM): {spread(delivery)}")
    print(f"end: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
