"""Print forms of a case (issue 17 item 4), as A4 pages and as PDF: 登记表 (seed 003's
咨询投诉登记表), 转办单/交办单, 督办单 (黄牌, 红牌; a 催办 prints as 催办通知书), 不予受理告知书,
延期告知书 and 答复意见书. ``/cases/{case}/print/{form}`` is the page (no navigation, the print
stylesheet), ``/cases/{case}/print/{form}.pdf`` the same page rendered by WeasyPrint
(``api.pdf``). Each carries the centre's name (``centre_name``), the case number and its
times in the configured zone.

Who prints what: operators and supervisors print every form of any case. A unit's handler
prints only the 转办单, 督办单 and 答复意见书 of its own unit's cases (another unit's case is
not found), with the complainant shown as the unit portal shows it
(``dispatch.handling.unit_portal``: the identity only with consent, never to the unit
complained about nor for 举报, and taken out of the free text). A 转办单 printed by the centre
is the one the unit receives, so it is masked the same way for its lead unit. On the
centre's 登记表 the phone's middle digits are hidden when the complainant is anonymous or
asked for confidentiality (要求保密), and the address too. Other roles get 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from accounts.models import Role
from api import pdf
from api.auth import CASE_WORKERS, Login, LoginDep
from api.deps import SessionDep, SettingsDep, now
from api.error_pages import answer
from api.labels import actor_label
from api.pages import templates
from core.settings import Settings
from custody.dossier import received_label, zone_name
from dispatch.cases.handling_models import Assignment, Extension, SupervisionRecord, UnitReply
from dispatch.cases.lifecycle import Action
from dispatch.cases.models import Case
from dispatch.cases.registration import (
    CHANNEL_LABELS,
    DECISION_LABELS,
    TYPE_LABELS,
    Channel,
    Decision,
)
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import Stage
from dispatch.feedback.scale import LEVEL_LABELS
from dispatch.feedback.visits import METHOD_LABELS, history
from dispatch.handling import disclosure, steps, supervision, unit_portal
from dispatch.handling.steps import FINDING_LABELS, Finding, Mode
from dispatch.intake import case_lookup

router = APIRouter(include_in_schema=False)


class Form(StrEnum):
    REGISTRATION = "registration"  # 登记表
    TRANSFER = "transfer"  # 转办单 / 交办单
    SUPERVISION = "supervision"  # 督办单
    REJECTION = "rejection"  # 不予受理告知书
    EXTENSION = "extension"  # 延期告知书
    REPLY = "reply"  # 答复意见书


FORM_LABELS = {
    Form.REGISTRATION: "登记表",
    Form.TRANSFER: "转办单",
    Form.SUPERVISION: "督办单",
    Form.REJECTION: "不予受理告知书",
    Form.EXTENSION: "延期告知书",
    Form.REPLY: "答复意见书",
}
UNIT_FORMS = frozenset({Form.TRANSFER, Form.SUPERVISION, Form.REPLY})
TRANSFER_TITLES = {Mode.TRANSFER: "转办单", Mode.ASSIGN: "交办单", Mode.SELF: "自办单"}
SUPERVISION_TITLES = {"yellow": "督办单（黄牌）", "red": "督办单（红牌）", "reminder": "催办通知书"}
SUPERVISION_ASKS = {
    "reminder": "请抓紧办理，按时限答复。",
    "yellow": "该件已超过办理时限，现予黄牌督办。请立即办理，"
    "并于一个工作日内将办理进展书面报中心。",
    "red": "该件超期严重，现予红牌督办。请单位负责人督促立即办结，书面说明超期原因，"
    "并提出整改措施报中心。",
}
NOT_PRINTABLE = {
    Form.TRANSFER: "该案件尚未交办，没有转办单可打印。",
    Form.SUPERVISION: "该案件没有督办记录，没有督办单可打印。",
    Form.REJECTION: "该案件没有作出不予受理决定，没有不予受理告知书可打印。",
    Form.EXTENSION: "该案件没有批准的延期，没有延期告知书可打印。",
    Form.REPLY: "承办单位尚未答复，没有答复意见书可打印。",
}


class NothingToPrint(LookupError):
    """The case has no such document (no dispatch, no supervision record, …)."""

    def __init__(self, form: Form) -> None:
        super().__init__(f"this case has no {form.value} to print")
        self.form = form


@dataclass(frozen=True)
class Field:
    """One box of a form: its label and value; ``wide`` spans the row, ``long`` is a box
    for text, ``sign`` a box to sign in; ``key`` names the cell for the page's readers."""

    label: str
    value: str
    key: str = ""
    wide: bool = False
    long: bool = False
    sign: bool = False


@dataclass(frozen=True)
class Document:
    """A form (``rows`` of fields) or a letter (``to`` and ``paragraphs``)."""

    title: str
    number: str
    rows: list[list[Field]] = field(default_factory=list)
    to: str = ""
    paragraphs: list[str] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)  # the letter's sender and date
    meta: str = ""  # beside the number


# -- words ----------------------------------------------------------------------------------


def local_time(value: dt.datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def chinese_date(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def local_date(value: dt.datetime, zone: ZoneInfo) -> str:
    return chinese_date(value.astimezone(zone).date())


def masked_phone(phone: str) -> str:
    """A phone with its middle digits hidden: 139****5678; a short one keeps its last two."""
    digits = phone.strip()
    if len(digits) >= 8:
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    return f"{'*' * max(len(digits) - 2, 0)}{digits[-2:]}" if digits else ""


def _label(labels: Mapping[Any, str], value: str) -> str:
    return labels.get(value, value)


@dataclass(frozen=True)
class Complainant:
    """The complainant as a reader of a form may see them."""

    name: str
    phone: str
    address: str
    title: str
    content: str
    request: str


def for_centre(case: Case) -> Complainant:
    """The centre's 登记表: all of it; when the complainant is anonymous or asked for
    confidentiality, the phone's middle digits and the address hidden, and the phone, the
    address (and an anonymous one's name) taken out of the free text too."""
    if not (case.anonymous or case.confidential):
        return Complainant(
            case.complainant_name,
            case.complainant_phone,
            case.complainant_address,
            case.title,
            case.content,
            case.request,
        )
    hidden = [case.complainant_phone, case.complainant_address]
    if case.anonymous:
        hidden += [case.complainant_name, case.complainant_org]

    def guarded(text: str) -> str:
        return disclosure.redact(text, *hidden)

    return Complainant(
        "匿名" if case.anonymous else case.complainant_name,
        masked_phone(case.complainant_phone),
        "（已保密）" if case.complainant_address else "",
        guarded(case.title),
        guarded(case.content),
        guarded(case.request),
    )


def for_unit(case: Case, unit_id: str) -> Complainant:
    """What the unit ``unit_id`` may read (``unit_portal.view``'s rule, for an assignment
    that may have ended since)."""
    shown = disclosure.for_unit(unit_portal.parties(case), unit_id)
    hidden = "" if shown.identity else disclosure.HIDDEN_NAME
    return Complainant(
        ("匿名" if case.anonymous else case.complainant_name) if shown.identity else hidden,
        case.complainant_phone if shown.identity else "（已保密）",
        case.complainant_address if shown.identity else "（已保密）",
        unit_portal.visible(case, shown, case.title),
        unit_portal.visible(case, shown, case.content),
        unit_portal.visible(case, shown, case.request),
    )


def from_view(seen: unit_portal.View) -> Complainant:
    hidden = "" if seen.identity_shown else "（已保密）"
    return Complainant(
        seen.complainant_name,
        seen.complainant_phone or hidden,
        seen.complainant_address or hidden,
        seen.title,
        seen.content,
        seen.request,
    )


# -- the documents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """Who prints: the centre (``unit_id`` None) or a unit's handler."""

    unit_id: str | None
    unit_name: str = ""
    view: unit_portal.View | None = None

    def complainant(self, case: Case, unit_id: str | None) -> Complainant:
        if self.view is not None:
            return from_view(self.view)
        return for_unit(case, unit_id) if unit_id else for_centre(case)

    def text(self, case: Case, text: str) -> str:
        """Free text as this reader may read it (a unit: without the complainant's
        identity unless shown to it)."""
        if self.unit_id is None:
            return text
        shown = disclosure.for_unit(unit_portal.parties(case), self.unit_id)
        return unit_portal.visible(case, shown, text)


def _first(case: Case, actions: set[str]) -> dt.datetime | None:
    for event in case.history:
        if event.action in actions:
            return event.at
    return None


def registration(session: Session, case: Case, zone: ZoneInfo) -> Document:
    who = for_centre(case)
    decision = _label(DECISION_LABELS, case.decision)
    if case.decision_reason:
        decision = f"{decision}：{case.decision_reason}"
    if case.refer_to:
        decision = f"{decision}（引导至{case.refer_to}）"
    latest = next((r for r in reversed(steps.replies(session, case.id)) if r.review), None)
    handled = ""
    if latest is not None:
        finding = _label(FINDING_LABELS, latest.finding)
        handled = f"{latest.facts}\n核查结论：{finding}\n处理措施：{latest.measures}"
    told = [
        f"{local_time(f.at, zone)} {_label(METHOD_LABELS, f.method)}"
        + (f"，{_label(LEVEL_LABELS, f.satisfaction)}" if f.satisfaction else "")
        for f in history(session, case.id)
    ]
    return Document(
        "咨询投诉登记表",
        case.number,
        [
            [
                Field("案件编号", case.number, "f-number"),
                Field("登记时间", local_time(case.registered_at, zone), "f-registered"),
            ],
            [
                Field(received_label(Channel(case.channel)), local_time(case.received_at, zone)),
                Field("受理渠道", _label(CHANNEL_LABELS, case.channel), "f-channel"),
            ],
            [
                Field("诉求类型", _label(TYPE_LABELS, case.case_type), "f-type"),
                Field("受理人", actor_label(case.registered_by), "f-registrar"),
            ],
            [
                Field("咨询投诉人", who.name, "f-name"),
                Field("联系电话", who.phone, "f-phone"),
            ],
            [
                Field("联系地址", who.address, "f-address"),
                Field("工作单位", "" if case.anonymous else case.complainant_org),
            ],
            [
                Field("被投诉单位", case.subject_unit, "f-subject-unit"),
                Field("窗口单位", case.subject_window, "f-window"),
            ],
            [
                Field("被投诉人员", case.subject_person),
                Field("诉求分类", case.category),
            ],
            [Field("事项名称", who.title, "f-title", wide=True)],
            [Field("具体事实情节", who.content, "f-content", wide=True, long=True)],
            [Field("诉求", who.request, "f-request", wide=True)],
            [Field("受理意见", decision, "f-decision", wide=True)],
            [Field("咨询投诉人核实签字", "", wide=True, sign=True)],
            [Field("中心分管领导阅批意见", "", wide=True, sign=True)],
            [Field("处理情况", handled, "f-handled", wide=True, long=True)],
            [Field("反馈情况", "；".join(told), "f-feedback", wide=True)],
        ],
        meta=f"{'匿名' if case.anonymous else '实名'}{'　要求保密' if case.confidential else ''}",
    )


def _lead_assignment(session: Session, case: Case, reader: Reader) -> Assignment:
    if reader.view is not None:
        return reader.view.assignment
    made = [a for a in steps.assignments(session, case.id, active_only=False) if a.role == "lead"]
    if not made:
        raise NothingToPrint(Form.TRANSFER)
    return made[-1]


def transfer(session: Session, case: Case, zone: ZoneInfo, reader: Reader) -> Document:
    chosen = _lead_assignment(session, case, reader)
    who = reader.complainant(case, chosen.unit_id)
    together = [
        a
        for a in steps.assignments(session, case.id, active_only=False)
        if a.dispatched_at == chosen.dispatched_at
    ]
    names = steps.unit_names(session, [a.unit_id for a in together])
    lead = next((a for a in together if a.role == "lead"), chosen)
    assisting = "、".join(names.get(a.unit_id, "") for a in together if a.role == "assist")
    clock = stage_clocks.active(session, case.id, Stage.HANDLING)
    due = chinese_date(clock.due_on) if clock is not None else ""
    signed = f"{local_time(chosen.signed_at, zone)} {chosen.signed_by}" if chosen.signed_at else ""
    return Document(
        TRANSFER_TITLES.get(Mode(chosen.mode), "转办单"),
        case.number,
        [
            [
                Field("案件编号", case.number, "f-number"),
                Field(received_label(Channel(case.channel)), local_time(case.received_at, zone)),
            ],
            [
                Field("主办单位", names.get(lead.unit_id, ""), "f-lead"),
                Field("协办单位", assisting or "无", "f-assist"),
            ],
            [
                Field("诉求人", who.name, "f-name"),
                Field("联系电话", who.phone, "f-phone"),
            ],
            [
                Field("诉求类型", _label(TYPE_LABELS, case.case_type)),
                Field("诉求分类", case.category),
            ],
            [Field("诉求标题", who.title, "f-title", wide=True)],
            [Field("诉求内容", who.content, "f-content", wide=True, long=True)],
            [Field("诉求", who.request, "f-request", wide=True)],
            [Field("交办意见", chosen.instructions, "f-instructions", wide=True, long=True)],
            [
                Field("交办时间", local_time(chosen.dispatched_at, zone), "f-dispatched"),
                Field("办理时限", due and f"{due}前办结并答复", "f-due"),
            ],
            [
                Field("交办人", actor_label(chosen.dispatched_by)),
                Field("签收", signed, "f-signed", sign=not signed),
            ],
        ],
        meta=f"交办方式：{_label(steps.MODE_LABELS, chosen.mode)}",
    )


def _supervision_record(
    session: Session, case: Case, reader: Reader, record_id: int | None
) -> SupervisionRecord:
    records = supervision.records(session, case.id, reader.unit_id)
    if record_id is not None:
        found = next((r for r in records if r.id == record_id), None)
    else:  # the latest card (red before a yellow issued with it), else the latest 催办
        cards = [r for r in records if r.kind in ("yellow", "red")]
        found = max(cards or records, key=lambda r: (r.at, r.kind == "red", r.id), default=None)
    if found is None:
        raise NothingToPrint(Form.SUPERVISION)
    return found


def supervision_form(
    session: Session, case: Case, zone: ZoneInfo, reader: Reader, record_id: int | None
) -> Document:
    record = _supervision_record(session, case, reader, record_id)
    unit_id = record.unit_id
    names = steps.unit_names(session, [unit_id] if unit_id else [])
    unit = names.get(unit_id or "", "") or "中心"
    who = reader.complainant(case, unit_id)
    issued = actor_label(record.issued_by) if record.issued_by else "系统（督办）"
    return Document(
        SUPERVISION_TITLES.get(record.kind, "督办单"),
        case.number,
        [
            [
                Field("案件编号", case.number, "f-number"),
                Field("督办编号", f"{case.number}-{record.id}", "f-record"),
            ],
            [
                Field("承办单位", unit, "f-unit"),
                Field("办理时限", chinese_date(record.due_on), "f-due"),
            ],
            [Field("诉求标题", who.title, "f-title", wide=True)],
            [Field("督办事由", record.message, "f-message", wide=True, long=True)],
            [Field("督办意见", reader.text(case, record.reason), "f-reason", wide=True)]
            if record.reason
            else [Field("督办要求", SUPERVISION_ASKS.get(record.kind, ""), "f-ask", wide=True)],
            [
                Field("督办时间", local_time(record.at, zone), "f-at"),
                Field("督办人", issued, "f-issuer"),
            ],
            [Field("承办单位签收", "", wide=True, sign=True)],
        ],
    )


def rejection(case: Case, zone: ZoneInfo) -> Document:
    if case.decision != Decision.REJECT.value:
        raise NothingToPrint(Form.REJECTION)
    decided = _first(case, {Action.REJECT.value}) or case.registered_at
    name = "匿名来电人" if case.anonymous or not case.complainant_name else case.complainant_name
    via = _label(CHANNEL_LABELS, case.channel)
    paragraphs = [
        f"您于{local_date(case.received_at, zone)}通过{via}反映的“{case.title}”"
        f"（编号：{case.number}），经审查，决定不予受理。",
    ]
    if case.decision_reason:
        paragraphs.append(f"理由：{case.decision_reason}")
    if case.refer_to:
        paragraphs.append(f"建议您向{case.refer_to}反映。")
    if case.reply_text:
        paragraphs.append(case.reply_text)
    paragraphs.append("特此告知。")
    return Document(
        "不予受理告知书",
        case.number,
        to=f"{name}：",
        paragraphs=paragraphs,
        signed=[local_date(decided, zone)],
    )


def _extension(session: Session, case: Case, extension_id: str) -> Extension:
    approved = [e for e in steps.extensions(session, case.id) if e.status == "approved"]
    if extension_id:
        approved = [e for e in approved if e.id == extension_id]
    if not approved:
        raise NothingToPrint(Form.EXTENSION)
    return approved[-1]


def extension_form(session: Session, case: Case, zone: ZoneInfo, extension_id: str) -> Document:
    chosen = _extension(session, case, extension_id)
    name = "匿名来电人" if case.anonymous or not case.complainant_name else case.complainant_name
    notice = chosen.notice_text or steps.extension_notice(case, chosen.new_due_on, chosen.reason)
    decided = chosen.decided_at or chosen.requested_at
    return Document(
        "延期告知书",
        case.number,
        to=f"{name}：",
        paragraphs=[notice.removeprefix("您好，"), "特此告知。"],
        signed=[local_date(decided, zone)],
        meta=f"原办理时限：{chinese_date(chosen.old_due_on)}　"
        f"延期至：{chinese_date(chosen.new_due_on)}",
    )


def _reply(session: Session, case: Case, reader: Reader) -> UnitReply:
    replies = steps.replies(session, case.id)
    if reader.unit_id is not None:
        replies = [r for r in replies if r.unit_id == reader.unit_id]
    passed = [r for r in replies if r.review == "passed"]
    if not (passed or replies):
        raise NothingToPrint(Form.REPLY)
    return (passed or replies)[-1]


def reply_form(session: Session, case: Case, zone: ZoneInfo, reader: Reader) -> Document:
    chosen = _reply(session, case, reader)
    who = reader.complainant(case, chosen.unit_id)
    unit = steps.unit_names(session, [chosen.unit_id]).get(chosen.unit_id, "")
    review = {"passed": "审核通过", "returned": "退回重办", "": "待审核"}.get(chosen.review, "")
    if chosen.reviewed_at is not None:
        review = f"{review}（{local_time(chosen.reviewed_at, zone)}）"
    return Document(
        "答复意见书",
        case.number,
        [
            [
                Field("案件编号", case.number, "f-number"),
                Field("承办单位", unit, "f-unit"),
            ],
            [
                Field("诉求人", who.name, "f-name"),
                Field("联系电话", who.phone, "f-phone"),
            ],
            [Field("诉求标题", who.title, "f-title", wide=True)],
            [Field("诉求内容", who.content, "f-content", wide=True, long=True)],
            [
                Field(
                    "调查核实情况", reader.text(case, chosen.facts), "f-facts", wide=True, long=True
                )
            ],
            [
                Field("核查结论", _label(FINDING_LABELS, chosen.finding), "f-finding"),
                Field("答复时间", local_time(chosen.at, zone), "f-replied"),
            ],
            [
                Field(
                    "处理意见及整改措施",
                    reader.text(case, chosen.measures),
                    "f-measures",
                    wide=True,
                    long=True,
                )
            ],
            [
                Field(
                    "责任追究",
                    reader.text(case, chosen.responsible_handling) or "无",
                    "f-responsible",
                    wide=True,
                )
            ]
            if chosen.finding != Finding.UNTRUE.value or chosen.responsible_handling
            else [Field("责任追究", "无（经核查不属实）", "f-responsible", wide=True)],
            [
                Field("经办人", chosen.by, "f-by"),
                Field("中心审核", review, "f-review"),
            ],
            [Field("承办单位（盖章）", "", wide=True, sign=True)],
        ],
    )


def document(
    session: Session,
    case: Case,
    form: Form,
    zone: ZoneInfo,
    reader: Reader,
    record_id: int | None = None,
    extension_id: str = "",
) -> Document:
    match form:
        case Form.REGISTRATION:
            return registration(session, case, zone)
        case Form.TRANSFER:
            return transfer(session, case, zone, reader)
        case Form.SUPERVISION:
            return supervision_form(session, case, zone, reader, record_id)
        case Form.REJECTION:
            return rejection(case, zone)
        case Form.EXTENSION:
            return extension_form(session, case, zone, extension_id)
        case _:
            return reply_form(session, case, zone, reader)


# -- routes ------------------------------------------------------------------------------------


def _form(name: str) -> Form:
    try:
        return Form(name)
    except ValueError:
        raise HTTPException(status_code=404, detail="no such form") from None


def _reader(
    session: Session, login: Login, case_key: str, form_name: str
) -> tuple[Case, Form, Reader]:
    """The case, the form and who reads it; the role is checked first (a unit's handler
    of no unit is refused whatever the form), then the form, then the case."""
    if login.role in CASE_WORKERS:
        form = _form(form_name)
        return case_lookup.find(session, case_key), form, Reader(None)
    if login.role is not Role.UNIT_HANDLER:
        raise HTTPException(status_code=403, detail="your role may not do this")
    unit_portal.own_unit(session, login.user_id)  # NoUnit: 403
    form = _form(form_name)
    if form not in UNIT_FORMS:
        raise HTTPException(status_code=403, detail="your role may not do this")
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    seen = unit_portal.view(session, case, unit.id)
    return case, form, Reader(unit.id, unit.name, seen)


def _record_id(request: Request) -> int | None:
    value = request.query_params.get("record", "")
    if not value:
        return None
    if not value.isdigit():
        raise HTTPException(status_code=404, detail="no such supervision record")
    return int(value)


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    case_key: str,
    form_name: str,
    for_pdf: bool,
) -> str | Response:
    case, form, reader = _reader(session, login, case_key, form_name)
    zone = ZoneInfo(settings.timezone)
    try:
        made = document(
            session,
            case,
            form,
            zone,
            reader,
            _record_id(request),
            request.query_params.get("extension", ""),
        )
    except NothingToPrint as missing:
        return answer(request, 404, str(missing), NOT_PRINTABLE[missing.form])
    query = f"?{request.url.query}" if request.url.query else ""
    back = f"/unit/cases/{case.id}" if reader.unit_id else f"/cases/{case.id}"
    template = "print_letter.html" if made.paragraphs else "print_form.html"
    return templates.get_template(template).render(
        doc=made,
        doc_title=made.title,
        number=made.number,
        centre_name=settings.centre_name,
        printed_at=local_time(now(), zone),
        zone_label=zone_name(zone),
        for_pdf=for_pdf,
        back_href=back,
        pdf_href=f"/cases/{case.id}/print/{form.value}.pdf{query}",
    )


@router.get("/cases/{case_key}/print/{form_name}.pdf")
def print_pdf(
    case_key: str,
    form_name: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginDep,
) -> Response:
    page = _page(request, session, settings, login, case_key, form_name, True)
    if isinstance(page, Response):
        return page
    form = Form(form_name)
    number = case_lookup.find(session, case_key).number
    return Response(
        pdf.render(page),
        media_type=pdf.MEDIA_TYPE,
        headers={
            "Content-Disposition": pdf.content_disposition(
                f"{number}-{FORM_LABELS[form]}.pdf", f"{number}-{form.value}.pdf"
            )
        },
    )


@router.get("/cases/{case_key}/print/{form_name}", response_class=HTMLResponse)
def print_page(
    case_key: str,
    form_name: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginDep,
) -> Response:
    page = _page(request, session, settings, login, case_key, form_name, False)
    return page if isinstance(page, Response) else HTMLResponse(page)
