"""The centre's handling steps through the console's forms and the JSON API, on SQLite and a
real PostgreSQL server: a case for the leader that its unit sent back moves on from the
page (报领导审批, then 交办); a refused form comes back with what was typed and each error
beside its field; the category a dispatch confirms is what the dispatcher meant; 改派 and
收回 take a case from its unit; a supervisor's 催办 reaches the unit and the records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.cases.handling_models import RoutingLabel
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.working_calendar import WorkingCalendar
from tests.api_actor import Actor
from tests.builders import add_user

ZONE = ZoneInfo("Asia/Shanghai")
# A Tuesday morning in Beijing: a working week ahead (2026-11-24 .. 11-27).
TUESDAY = dt.datetime(2026, 11, 24, 9, 30, tzinfo=ZONE)
CASE = {
    "received_at": "2026-11-24T09:00",
    "channel": "walk_in",
    "case_type": "complaint",
    "complainant_name": "李秀英",
    "complainant_phone": "13912345678",
    "subject_unit": "东郊化工厂",
    "title": "化工厂夜间排放刺鼻废气",
    "content": "小区旁的化工厂每天夜里排放刺鼻气味，已经持续一个月。",
    "request": "请环保部门查处",
}


# -- reading a page's forms ------------------------------------------------------------------


@dataclass
class FormSeen:
    """One form of a page: what it would send, which fields are marked wrong, its errors."""

    values: dict[str, list[str]] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)
    field_errors: dict[str, str] = field(default_factory=dict)  # field name -> message
    errors: list[str] = field(default_factory=list)  # the form's own, at its buttons

    def value(self, name: str) -> str:
        return "".join(self.values.get(name, []))


class Forms(HTMLParser):
    """The forms of a page by id (the standard library's parser: no third-party code)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: dict[str, FormSeen] = {}
        self._form: FormSeen | None = None
        self._select = ""
        self._text: tuple[str, str] | None = None  # (what, name) while inside a tag's text
        self._buffer = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = self.forms.setdefault(a.get("id", ""), FormSeen())
            return
        form = self._form
        if form is None:
            return
        name = a.get("name", "")
        if a.get("aria-invalid") == "true":
            form.invalid.add(name)
        if tag == "input" and name and a.get("type") != "hidden":
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    form.values.setdefault(name, []).append(a.get("value", "on"))
            else:
                form.values[name] = [a.get("value", "")]
        elif tag == "input" and name:
            form.values[name] = [a.get("value", "")]
        elif tag == "select":
            self._select = name
            form.values.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            form.values[self._select].append(a.get("value", ""))
        elif tag == "textarea":
            self._text, self._buffer = ("textarea", name), ""
        elif tag == "span" and "field-error" in a.get("class", ""):
            self._text, self._buffer = ("field-error", a.get("id", "").rsplit("-", 1)[-1]), ""
        elif tag == "p" and "form-error" in a.get("class", ""):
            self._text, self._buffer = ("form-error", ""), ""

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._buffer += data

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = ""
        elif form is not None and self._text is not None and tag in ("textarea", "span", "p"):
            what, name = self._text
            if what == "textarea":
                form.values[name] = [self._buffer]
            elif what == "field-error":
                form.field_errors[name] = self._buffer
            else:
                form.errors.append(self._buffer)
            self._text = None


def forms_of(html: str) -> dict[str, FormSeen]:
    return Forms(html).forms


# -- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    op: Actor
    sup: Actor
    zj: Actor  # 市住建局's handler
    env: Actor  # 市生态环境局's handler
    housing: str
    environment: str
    sessions: sessionmaker[Session]
    app: Any

    def page(self, actor: Actor, case_id: str) -> dict[str, FormSeen]:
        response = actor.fetch(f"/cases/{case_id}")
        assert response.status_code == 200, response.text[-500:]
        return forms_of(response.text)

    def form(
        self, actor: Actor, url: str, data: dict[str, Any], status: int = 303
    ) -> tuple[str, dict[str, FormSeen]]:
        response = actor.client.post(
            url, data={**data, "csrf_token": actor.headers["X-CSRF-Token"]}
        )
        assert response.status_code == status, (url, response.status_code, response.text[-1500:])
        return response.text, forms_of(response.text)

    def handling(self, case_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.op.get(f"/api/cases/{case_id}/handling")
        return answer

    def accepted_case(self) -> str:
        case_id: str = self.op.post("/api/cases", {**CASE, "decision": "accept"}, status=201)["id"]
        return case_id

    def dispatched_to_housing(self, leader: bool = False) -> str:
        case_id = self.accepted_case()
        if leader:
            self.op.post(f"/api/cases/{case_id}/approval", {"action": "submit", "note": "重大"})
            self.sup.post(f"/api/cases/{case_id}/approval", {"action": "approve", "note": ""})
        self.op.post(
            f"/api/cases/{case_id}/dispatch",
            {"lead_unit_id": self.housing, "category": "城乡建设"},
        )
        return case_id


@pytest.fixture
def world(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[World]:
    people = [("op1", "operator"), ("sup1", "supervisor"), ("zj1", "unit_handler")]
    for name, role in [*people, ("hb1", "unit_handler")]:
        add_user(sessions, name, role)
    settings = Settings(data_dir=tmp_path, database_url=db_url, supervision_interval_seconds=0)
    with (
        time_machine.travel(TUESDAY, tick=True),
        TestClient(create_app(settings), follow_redirects=False) as started,
    ):
        op, sup, zj, env = (Actor(started.app, n) for n in ("op1", "sup1", "zj1", "hb1"))
        housing = sup.post("/api/units", {"name": "市住建局", "kind": "department"}, status=201)
        environment = sup.post(
            "/api/units", {"name": "市生态环境局", "kind": "department"}, status=201
        )
        sup.post(f"/api/units/{housing['id']}/members", {"username": "zj1"}, status=204)
        sup.post(f"/api/units/{environment['id']}/members", {"username": "hb1"}, status=204)
        sup.put("/api/catalogue/城乡建设", {"unit_id": housing["id"]})
        sup.put("/api/catalogue/环境保护", {"unit_id": environment["id"]})
        yield World(op, sup, zj, env, housing["id"], environment["id"], sessions, started.app)
        for actor in (op, sup, zj, env):
            actor.client.close()


# -- defect 1: a case for the leader, sent back by its unit ------------------------------------


def test_a_case_for_the_leader_sent_back_by_its_unit_moves_on_from_the_console(
    world: World,
) -> None:
    case_id = world.dispatched_to_housing(leader=True)
    world.zj.post(f"/api/unit/cases/{case_id}/return", {"reason": "属于环保部门职责"}, status=204)

    # Back at the centre: the page offers what the rules allow, 报领导审批, not a 交办 the
    # rules refuse, to the operator and to the supervisor alike.
    for actor in (world.op, world.sup):
        page = actor.fetch(f"/cases/{case_id}").text
        forms = forms_of(page)
        assert "approval-submit" in forms and "dispatch" not in forms, sorted(forms)
        assert "重新交办前须再次报领导审批" in page
        assert "下一步：报领导审批（须经领导审批后交办）" in page  # the heading says so first
    assert "须先报领导审批" in world.sup.fetch("/supervision").text  # the board says so too

    world.form(world.op, f"/cases/{case_id}/approval", {"action": "submit", "note": "退回改派"})
    assert "approval" in world.page(world.sup, case_id)
    assert "approval" not in world.page(world.op, case_id)  # the leader's to decide
    world.form(world.sup, f"/cases/{case_id}/approval", {"action": "approve", "note": "同意"})
    forms = world.page(world.op, case_id)
    assert "dispatch" in forms and "approval-submit" not in forms
    world.form(
        world.op,
        f"/cases/{case_id}/dispatch",
        {"category": "环境保护", "category_offered": "", "lead_unit_id": world.environment},
    )
    handling = world.handling(case_id)
    assert handling["status"] == "dispatched"
    assert [(a["unit_id"], a["active"]) for a in handling["assignments"]] == [
        (world.housing, False),
        (world.environment, True),
    ]


# -- defect 3: a refused form keeps what was typed, its errors at their fields -----------------


def test_a_refused_dispatch_keeps_every_field_and_shows_the_error_at_the_lead_unit(
    world: World,
) -> None:
    case_id = world.accepted_case()
    sent = {
        "category": "环境保护",
        "category_offered": "",
        "lead_unit_id": "",
        "mode": "assign",
        "assist_unit_ids": [world.housing],
        "complained_unit_id": world.housing,
        "complex_case": "on",
        "instructions": "请于三日内现场核查，并书面答复。",
    }
    _, forms = world.form(world.op, f"/cases/{case_id}/dispatch", sent, status=422)
    form = forms["dispatch"]
    assert form.field_errors == {"lead_unit_id": "请选择主办单位"}
    assert form.invalid == {"lead_unit_id"}
    assert form.values["category"] == ["环境保护"]
    assert form.values["lead_unit_id"] == []
    assert form.values["mode"] == ["assign"]
    assert form.values["assist_unit_ids"] == [world.housing]
    assert form.values["complained_unit_id"] == [world.housing]
    assert form.values["complex_case"] == ["on"]
    assert form.value("instructions") == "请于三日内现场核查，并书面答复。"
    assert world.handling(case_id)["status"] == "accepted"


def test_each_refused_centre_form_keeps_what_was_typed(world: World) -> None:
    """The other forms of the handling panel: each refusal comes back in that form only."""
    case_id = world.dispatched_to_housing()
    _, forms = world.form(
        world.sup,
        f"/cases/{case_id}/reassignment",
        {
            "action": "reassign",
            "reason": "原单位职责不符",
            "lead_unit_id": "",
            "category": "环境保护",
            "category_offered": "城乡建设",
            "instructions": "请尽快核查",
        },
        status=422,
    )
    form = forms["reassign"]
    assert form.field_errors == {"lead_unit_id": "请选择主办单位"}
    assert (form.value("reason"), form.value("instructions")) == ("原单位职责不符", "请尽快核查")
    assert form.values["category"] == ["环境保护"]
    assert forms["remind"].field_errors == {} and forms["remind"].value("reason") == ""

    _, forms = world.form(world.sup, f"/cases/{case_id}/reminders", {"reason": "  "}, status=422)
    assert forms["remind"].field_errors == {"reason": "请填写催办事由"}
    assert forms["reassign"].field_errors == {}

    # The unit answers; the review, the feedback and the conclusion refuse in turn.
    world.zj.post(f"/api/unit/cases/{case_id}/sign")
    world.zj.post(
        f"/api/unit/cases/{case_id}/reply",
        {"facts": "经现场检查属实", "finding": "true", "measures": "责令整改"},
    )
    _, forms = world.form(
        world.sup, f"/cases/{case_id}/review", {"passed": "0", "note": " "}, status=422
    )
    assert forms["review"].errors == ["审核退回重办须填写理由"]
    world.sup.post(f"/api/cases/{case_id}/review", {"passed": True})
    told = {
        "method": "in_person",
        "told_at": "2026-11-24T25:61",
        "satisfaction": "satisfied",
        "note": "已当面告知处理结果，群众表示满意",
    }
    _, forms = world.form(world.op, f"/cases/{case_id}/feedback", told, status=422)
    form = forms["feedback"]
    assert form.field_errors == {"told_at": "回访时间格式不正确"}
    assert form.values["method"] == ["in_person"] and form.values["satisfaction"] == ["satisfied"]
    assert form.value("told_at") == "2026-11-24T25:61"
    assert form.value("note") == "已当面告知处理结果，群众表示满意"
    world.op.post(f"/api/cases/{case_id}/feedback", {"method": "phone", "note": "已告知"})
    _, forms = world.form(
        world.sup,
        f"/cases/{case_id}/conclusion",
        {"action": "clsoe", "note": "群众认可处理结果"},
        status=422,
    )
    assert forms["conclusion"].errors == ["办结操作不正确"]
    assert forms["conclusion"].value("note") == "群众认可处理结果"


def test_a_refused_extension_decision_and_withdrawal_come_back_in_their_forms(
    world: World,
) -> None:
    case_id = world.dispatched_to_housing()
    world.zj.post(f"/api/unit/cases/{case_id}/sign")
    world.zj.post(f"/api/unit/cases/{case_id}/extension", {"days": 2, "reason": "需现场勘查"})
    [extension] = world.handling(case_id)["extensions"]
    _, forms = world.form(
        world.sup,
        f"/extensions/{extension['id']}/decision",
        {"approve": "0", "note": ""},
        status=422,
    )
    assert forms[f"extension-{extension['id']}"].field_errors == {"note": "不同意延期须说明理由"}
    _, forms = world.form(world.op, f"/cases/{case_id}/withdrawal", {"reason": ""}, status=422)
    assert forms["withdrawal"].errors == ["撤回须填写理由"]


# -- defect 17: the confirmed category is what the dispatcher meant ----------------------------


def labels(world: World) -> dict[str, str]:
    with world.sessions() as session:
        return {r.case_id: r.label for r in session.scalars(select(RoutingLabel))}


def test_a_category_left_as_offered_does_not_follow_a_lead_unit_changed_to_another(
    world: World,
) -> None:
    case_id = world.accepted_case()
    # The page offered 城乡建设 (the catalogue gives it to 市住建局); the dispatcher picked
    # 市生态环境局 and left the category: refused at the category, nothing learnt.
    offered = {"category": "城乡建设", "category_offered": "城乡建设", "mode": "transfer"}
    _, forms = world.form(
        world.op,
        f"/cases/{case_id}/dispatch",
        {**offered, "lead_unit_id": world.environment},
        status=422,
    )
    form = forms["dispatch"]
    assert form.field_errors == {
        "category": "主办单位已更换：派单目录中“城乡建设”由市住建局承办，请重新选择本案的类别"
    }
    # The form now shows the category that follows the unit chosen, and offers nothing.
    assert form.values["category"] == ["环境保护"]
    assert form.values["category_offered"] == [""]
    assert form.values["lead_unit_id"] == [world.environment]
    assert case_id not in labels(world)
    assert world.handling(case_id)["status"] == "accepted"

    # Chosen (even the same category, once the dispatcher has been asked), it stands.
    world.form(
        world.op,
        f"/cases/{case_id}/dispatch",
        {**offered, "category_offered": "", "lead_unit_id": world.environment},
    )
    assert labels(world)[case_id] == "城乡建设"
    # Left as offered with the unit the catalogue gives it to, it is a confirmation.
    other = world.accepted_case()
    world.form(world.op, f"/cases/{other}/dispatch", {**offered, "lead_unit_id": world.housing})
    assert labels(world)[other] == "城乡建设"


# -- 改派, 收回 and 催办 ----------------------------------------------------------------------


def test_reassigning_takes_the_case_from_its_unit_and_starts_a_fresh_clock(world: World) -> None:
    case_id = world.dispatched_to_housing()
    world.zj.post(f"/api/unit/cases/{case_id}/sign")
    assert world.zj.fetch(f"/api/unit/cases/{case_id}").status_code == 200
    later = TUESDAY + dt.timedelta(days=2)  # Thursday
    with time_machine.travel(later, tick=False):
        sup = Actor(world.app, "sup1")  # logged in again: two days idle end a session
        world.form(
            sup,
            f"/cases/{case_id}/reassignment",
            {
                "action": "reassign",
                "reason": "经核实属环保部门职责",
                "lead_unit_id": world.environment,
                "category": "环境保护",
                "category_offered": "城乡建设",
                "instructions": "请现场核查",
            },
        )
        handling = sup.get(f"/api/cases/{case_id}/handling")
        zj, env = Actor(world.app, "zj1"), Actor(world.app, "hb1")
        zj_sees = zj.fetch(f"/api/unit/cases/{case_id}").status_code
        env_sees = env.fetch(f"/api/unit/cases/{case_id}").status_code
        history = [(e["action"], e["note"]) for e in sup.get(f"/api/cases/{case_id}")["history"]]
        for actor in (sup, zj, env):
            actor.client.close()
    assert handling["status"] == "dispatched" and handling["category"] == "环境保护"
    old, new = handling["assignments"]
    assert (old["unit_id"], old["active"], old["recall_reason"]) == (
        world.housing,
        False,
        "经核实属环保部门职责",
    )
    assert (new["unit_id"], new["active"]) == (world.environment, True)
    running = {
        d["stage"]: d for d in handling["deadlines"] if not d["cancelled"] and not d["met_at"]
    }
    thursday = later.date()
    assert running["handling"]["unit_id"] == world.environment
    assert running["handling"]["started_on"] == thursday.isoformat()
    due = HOTLINE.handling_due(WorkingCalendar(), thursday).date
    assert running["handling"]["due_on"] == due.isoformat()  # not 11-27, from the acceptance
    assert (zj_sees, env_sees) == (404, 200)
    assert labels(world)[case_id] == "环境保护"
    assert ("recall", "收回市住建局的交办：经核实属环保部门职责") in history
    assert history[-1][0] == "dispatch" and "主办 市生态环境局" in history[-1][1]


def test_recalling_only_leaves_the_case_to_dispatch_and_only_a_supervisor_may(
    world: World,
) -> None:
    case_id = world.dispatched_to_housing()
    world.op.post(f"/api/cases/{case_id}/recall", {"reason": "派错单位"}, status=403)
    world.sup.post(f"/api/cases/{case_id}/recall", {"reason": " "}, status=422)
    world.sup.post(f"/api/cases/{case_id}/recall", {"reason": "派错单位"})
    handling = world.handling(case_id)
    assert handling["status"] == "accepted"
    assert [a["active"] for a in handling["assignments"]] == [False]
    running = [d["stage"] for d in handling["deadlines"] if not d["cancelled"] and not d["met_at"]]
    assert running == ["dispatch"]  # the centre's 转办 clock again
    assert world.zj.fetch(f"/api/unit/cases/{case_id}").status_code == 404
    world.sup.post(f"/api/cases/{case_id}/recall", {"reason": "再收回"}, status=409)


def test_a_supervisors_reminder_reaches_the_unit_and_the_records(world: World) -> None:
    case_id = world.dispatched_to_housing()
    world.op.post(f"/api/cases/{case_id}/reminders", {"reason": "群众再次来电催促"}, status=403)
    world.form(world.sup, f"/cases/{case_id}/reminders", {"reason": "群众再次来电催促"})
    world.sup.post(f"/api/cases/{case_id}/reminders", {"reason": "请今日内联系群众"})
    records = world.handling(case_id)["supervision"]
    assert [(r["kind"], r["issued_by"], r["reason"]) for r in records] == [
        ("reminder", "sup1", "请今日内联系群众"),
        ("reminder", "sup1", "群众再次来电催促"),
    ]
    seen = world.zj.get(f"/api/unit/cases/{case_id}")["reminders"]
    assert any("群众再次来电催促" in text for text in seen), seen
    board = world.sup.fetch("/supervision").text
    assert "请今日内联系群众" in board
    history = world.op.get(f"/api/cases/{case_id}")["history"]
    assert [e["actor"] for e in history if e["action"] == "remind"] == ["sup1", "sup1"]
