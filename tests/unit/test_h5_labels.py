"""The console's words for the access log and for who did a step (issue 16, defects 8, 15)."""

from __future__ import annotations

import pytest

from api.labels import actor_label, received_label
from custody.access_labels import ACTION_LABELS, role_label, scope_label


@pytest.mark.parametrize(
    ("role", "label"),
    [
        ("operator", "话务员"),
        ("supervisor", "督查员"),
        ("unit_handler", "承办单位经办人"),
        ("investigator", "调查员"),
        ("auditor", "审计员"),
        ("admin", "系统管理员"),
        ("robot", "robot"),
        ("", "—"),
    ],
)
def test_roles_in_chinese(role: str, label: str) -> None:
    assert role_label(role) == label


@pytest.mark.parametrize(
    ("value", "action", "label"),
    [
        ("", "play", "整个文件"),
        ("", "download", "整个文件"),
        ("", "export", "—"),
        ("bytes=0-", "play", "从头开始"),
        ("bytes=44-99", "range", "第 44–99 字节"),
        ("bytes=96000-", "range", "自第 96000 字节起"),
        ("bytes=-10", "range", "最后 10 字节"),
        ("bytes=0-1, 5-9", "range", "第 0–1 字节、第 5–9 字节"),
        ("call page", "transcript", "来电页面"),
        ("live transcript", "transcript", "实时转写"),
        ("archive bundle", "download", "归档卷宗"),
        ("registration form", "transcript", "登记表"),
        ("bytes=x-y", "play", "bytes=x-y"),
        ("bytes=-", "play", "bytes=-"),
    ],
)
def test_scopes_in_chinese(value: str, action: str, label: str) -> None:
    assert scope_label(value, action) == label


def test_a_listening_that_goes_on_is_not_another_play() -> None:
    assert ACTION_LABELS["play"] == "播放" and ACTION_LABELS["range"] == "续播"


@pytest.mark.parametrize(
    ("actor", "label"),
    [
        ("system:supervision", "系统（督办）"),
        ("system:callback", "系统（自动回访）"),
        ("system:something-new", "系统"),
        ("op1", "op1"),
        ("systematic", "systematic"),
    ],
)
def test_who_did_a_step(actor: str, label: str) -> None:
    assert actor_label(actor) == label


@pytest.mark.parametrize(
    ("channel", "label"),
    [
        ("phone", "来电时间"),
        ("walk_in", "来访时间"),
        ("letter", "来信时间"),
        ("transferred", "转办时间"),
        ("pigeon", "受理时间"),
    ],
)
def test_when_a_case_came_in_is_named_after_its_channel(channel: str, label: str) -> None:
    assert received_label(channel) == label
