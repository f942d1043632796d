"""Everything the form shows beside a call: the values it is pre-filled with, the
suggestions and their reasons, the caller's earlier calls and cases, the unfinished cases
of the same number (with the units that have them) and cases with similar text."""

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
    same_phone_unfinished: list[case_store.Repeat]
    similar: list[case_store.Similar] = field(default_factory=list)
    # The name in the form is the caller ID's display name: nobody has verified it.
    name_unverified: bool = False


def caller_text(transcript: TranscriptRecord | None) -> str:
    if transcript is None:
        return ""
    return " ".join(
        s.get("clean_text") or s.get("text", "")
        for s in transcript.segments
        if s.get("channel") == CALLER
    ).strip()


@dataclass(frozen=True)
class TranscriptFill:
    """What a transcript puts in the form (type, phone, subject, title, content and the
    whole text; the other fields come from the call itself) and the reasons shown beside
    them."""

    form: dict[str, str]
    type_reason: str
    subjects: list[str]
    numbers: list[str]


def fill_from(transcript: TranscriptRecord | None, caller_number: str) -> TranscriptFill:
    """The form's transcript fields: the content is the caller's words; the type, subject
    and title are suggested from them; the phone is the caller ID, else the first number
    spoken anywhere in the call."""
    text = caller_text(transcript)
    whole = transcript.clean_text if transcript else ""
    suggested = prefill.suggest_type(text)
    subjects = prefill.suggest_subjects(text)
    numbers = prefill.spoken_numbers(whole)
    phone = call_queue.caller_phone(caller_number)
    form = {
        "case_type": suggested.value if suggested else "",
        "complainant_phone": phone or (numbers[0] if numbers else ""),
        "subject_unit": subjects[0] if subjects else "",
        "title": prefill.suggest_title(text),
        "content": text,
        "transcript_text": whole,
    }
    return TranscriptFill(form, suggested.reason if suggested else "", subjects, numbers)


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
    fill = fill_from(transcript, call.caller_number)
    phone = call_queue.caller_phone(call.caller_number)
    real_name = call_queue.real_name(session, call)
    form = {
        "received_at": call.started_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "channel": Channel.PHONE.value,
        "complainant_name": real_name or call.caller_name,
        **fill.form,
        "decision": "",
    }
    return CallContext(
        call=call,
        transcript=transcript,
        caller_text=fill.form["content"],
        form=form,
        type_reason=fill.type_reason,
        subjects=fill.subjects,
        numbers=fill.numbers,
        earlier_calls=call_queue.earlier_calls(session, call.caller_number, call.started_at),
        earlier_cases=call_queue.earlier_cases(session, phone),
        same_phone_unfinished=case_store.unfinished_with_phone(session, phone),
        similar=case_store.similar(session, fill.form["content"], now, similar_days),
        name_unverified=bool(call.caller_name and not real_name),
    )
