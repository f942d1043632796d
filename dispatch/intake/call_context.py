"""Everything the form shows beside a call: the values it is pre-filled with, the
suggestions and their reasons, the caller's earlier calls and cases, open cases from the
same number and cases with similar text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from asr import jobs
from asr.channels import CALLER
from asr.models import TranscriptRecord
from dispatch.cases.models import Case
from dispatch.cases.registration import Channel
from dispatch.intake import call_queue, case_store, prefill
from ivr.models import Call
from recordings import lookup


@dataclass
class CallContext:
    call: Call
    transcript: TranscriptRecord | None
    caller_text: str
    form: dict[str, str]
    type_reason: str
    subjects: list[str]
    numbers: list[str]
    earlier_calls: list[Call]
    earlier_cases: list[Case]
    same_phone_open: list[Case]
    similar: list[case_store.Similar] = field(default_factory=list)


def caller_text(transcript: TranscriptRecord | None) -> str:
    if transcript is None:
        return ""
    return " ".join(
        s.get("clean_text") or s.get("text", "")
        for s in transcript.segments
        if s.get("channel") == CALLER
    ).strip()


def build(
    session: Session,
    call: Call,
    zone: ZoneInfo,
    now: dt.datetime,
    similar_days: int,
    *,
    readable: bool,
) -> CallContext:
    """``readable``: whether the person at the form may read the call's transcript (the
    replay rules decide); if not, nothing is pre-filled or suggested from it."""
    recording = lookup.of_call(session, call.id) if readable else None
    transcript = jobs.transcript_of(session, recording) if recording else None
    text = caller_text(transcript)
    whole = transcript.clean_text if transcript else ""
    suggested = prefill.suggest_type(text)
    subjects = prefill.suggest_subjects(text)
    numbers = prefill.spoken_numbers(whole)
    phone = call_queue.caller_phone(call.caller_number)
    form = {
        "received_at": call.started_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "channel": Channel.PHONE.value,
        "case_type": suggested.value if suggested else "",
        "complainant_name": call_queue.known_name(session, call),
        "complainant_phone": phone or (numbers[0] if numbers else ""),
        "subject_unit": subjects[0] if subjects else "",
        "title": prefill.suggest_title(text),
        "content": text,
        "transcript_text": whole,
        "decision": "",
    }
    return CallContext(
        call=call,
        transcript=transcript,
        caller_text=text,
        form=form,
        type_reason=suggested.reason if suggested else "",
        subjects=subjects,
        numbers=numbers,
        earlier_calls=call_queue.earlier_calls(session, call.caller_number, call.started_at),
        earlier_cases=call_queue.earlier_cases(session, phone),
        same_phone_open=case_store.open_with_phone(session, phone),
        similar=case_store.similar(session, text, now, similar_days),
    )
