"""A unit's reply with its files (办理回复附件), one use case for the portal's form and the
JSON API: the files are checked and stored first (type read from the content, size limited,
like the case's evidence), then the reply and its attachment rows land in one transaction
on the locked case; if anything is refused, no file is left behind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dispatch.cases.handling_models import UnitReply
from dispatch.cases.lifecycle import Action
from dispatch.cases.models import Attachment, Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines.stage_clocks import Rules
from dispatch.handling import steps, unit_portal
from dispatch.intake import register
from dispatch.intake.register import Upload
from recordings import evidence

FILES_FIELD = "attachments"


@dataclass(frozen=True)
class FileRules:
    """Where reply files are kept and how many, how large."""

    attachments_dir: Path
    max_bytes: int
    max_files: int


def missing_text(facts: str, measures: str) -> dict[str, FieldError]:
    """The reply's required text that is missing, by field."""
    return {
        name: FieldError(zh, f"{name} is required")
        for name, value, zh in [
            ("facts", facts, "请填写调查核实的情况"),
            ("measures", measures, "请填写处理措施"),
        ]
        if not value.strip()
    }


def check_answer(answer: steps.ReplyIn) -> None:
    """The reply's required text, checked before any file is stored (``steps.reply`` checks
    it again in the transaction)."""
    errors = missing_text(answer.facts, answer.measures)
    if errors:
        raise Invalid(errors)


def store_files(
    uploads: Sequence[Upload], rules: FileRules, now: dt.datetime
) -> list[evidence.StoredEvidence]:
    """Store the chosen files, or none of them: the first one refused (empty, too large, of
    a kind not allowed, or one too many) is named in the field error."""
    chosen = [u for u in uploads if u.filename]
    if len(chosen) > rules.max_files:
        raise Invalid(
            {
                FILES_FIELD: FieldError(
                    f"每次回复最多上传 {rules.max_files} 个附件",
                    f"at most {rules.max_files} files per reply",
                )
            }
        )
    return register.store_uploads(chosen, rules.attachments_dir, rules.max_bytes, now, FILES_FIELD)


def discard(rules: FileRules, stored: Sequence[evidence.StoredEvidence]) -> None:
    for item in stored:
        evidence.discard(rules.attachments_dir, item)


def attach_to_reply(
    session: Session,
    case: Case,
    reply: UnitReply,
    item: evidence.StoredEvidence,
    actor: str,
    now: dt.datetime,
) -> Attachment:
    """One stored file as an attachment of the reply, with its manifest entry."""
    return register.attach(session, case, item, actor, now, reply.id)


def reply_on_case(
    session: Session,
    case: Case,
    unit_id: str,
    answer: steps.ReplyIn,
    stored: Sequence[evidence.StoredEvidence],
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> UnitReply:
    """The reply step with its files, inside the caller's transaction. The files leave
    their own history entry (补充证据材料, the status kept) just before the reply's."""
    if stored:
        steps.transition(
            session,
            case,
            Action.ATTACH,
            actor,
            now,
            "办理回复附件：" + "、".join(item.filename for item in stored),
        )
    reply = steps.reply(session, case, unit_id, answer, actor, now, rules)
    for item in stored:
        attach_to_reply(session, case, reply, item, actor, now)
    session.flush()
    return reply


def submit(
    sessions: sessionmaker[Session],
    files: FileRules,
    user_id: str,
    case_key: str,
    answer: steps.ReplyIn,
    uploads: Sequence[Upload],
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> tuple[str, UnitReply]:
    """The handler's unit replies on one of its cases, with files: all or nothing. Returns
    the case's id and the reply."""
    with sessions() as session:
        # Another unit's case is not found before any file is stored.
        unit_portal.own_case(session, user_id, case_key)
    check_answer(answer)
    stored = store_files(uploads, files, now)
    try:
        return unit_portal.run_step(
            sessions,
            user_id,
            case_key,
            lambda s, c, unit_id: reply_on_case(s, c, unit_id, answer, stored, actor, now, rules),
        )
    except BaseException:
        discard(files, stored)
        raise
