"""Documents for people give times in the hotline's zone, as the console does (issue 16,
defect 9): the 登记表 in an evidence package or archive bundle."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from custody.dossier import readme, registration_text
from dispatch.cases.models import Case

BEIJING = ZoneInfo("Asia/Shanghai")


def a_case(channel: str) -> Case:
    return Case(
        number="TS202612030007",
        status="registered",
        channel=channel,
        case_type="consultation",
        received_at=dt.datetime(2026, 12, 2, 23, 50, 5, tzinfo=dt.UTC),
        registered_at=dt.datetime(2026, 12, 2, 23, 58, 41, tzinfo=dt.UTC),
        registered_by="op1",
        complainant_name="王芳",
        anonymous=False,
        confidential=False,
        title="居住证怎么办",
    )


def test_the_registration_form_gives_beijing_time_the_day_the_console_shows() -> None:
    text = registration_text(a_case("phone"), BEIJING)
    lines = text.splitlines()
    assert lines[0] == "（本表时间均为北京时间）"
    # 23:50 UTC on 2 December is 07:50 on 3 December in Beijing.
    assert "来电时间：2026-12-03 07:50:05" in lines
    assert "登记时间：2026-12-03 07:58:41" in lines
    assert "+00:00" not in text and "T23:" not in text
    assert "诉求人：王芳" in lines, "the citizen is 诉求人 whatever the type"


@pytest.mark.parametrize(
    ("channel", "label"),
    [
        ("letter", "来信时间"),
        ("walk_in", "来访时间"),
        ("email", "来件时间"),
        ("web", "网上提交时间"),
    ],
)
def test_when_it_came_in_is_named_after_its_channel(channel: str, label: str) -> None:
    assert f"{label}：2026-12-03 07:50:05" in registration_text(a_case(channel), BEIJING)


def test_another_zone_is_named_as_it_is() -> None:
    text = registration_text(a_case("phone"), ZoneInfo("Asia/Urumqi"))
    assert text.splitlines()[0] == "（本表时间均为Asia/Urumqi）"
    assert "来电时间：2026-12-03 05:50:05" in text


def test_the_readme_says_which_files_are_local_time() -> None:
    text = readme(a_case("phone"), "TS202612030007-evidence", "证据包", BEIJING)
    assert "registration.txt（登记表）中的时间为北京时间" in text
    assert "ISO 8601" in text and "sha256sum -c SHA256SUMS" in text
