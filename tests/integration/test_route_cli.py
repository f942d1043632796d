"""``hotline route train`` and ``hotline route classify`` through the real command, on a
stratified sample of the real citizen messages (../shared/data/complaints/train.csv)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from bench.routing_eval import accuracy, stratified_split
from core.db import make_engine, make_session_factory, transaction
from core.settings import PROJECT_ROOT, Settings
from dispatch.cases.models import Case
from dispatch.intake import register
from dispatch.routing import suggestions
from hotline import migrate
from hotline.cli import main

TRAIN_CSV = PROJECT_ROOT.parent / "shared" / "data" / "complaints" / "train.csv"
LABELS = {"城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"}


@dataclass(frozen=True)
class Samples:
    training: Path
    small: Path
    held_out: Path
    truth: dict[str, str]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["route", *args])


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """1,500 training rows (all columns, title included), 350 for quick trainings, and 400
    held-out rows as id,text; all stratified by label."""
    folder = tmp_path_factory.mktemp("route-samples")
    with TRAIN_CSV.open(encoding="utf-8", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    pairs = [(row_id, row["label"]) for row_id, row in rows.items()]
    rest, chosen = stratified_split(pairs, 1500 / len(pairs), seed=11)
    rest, held = stratified_split(rest, 400 / len(rest), seed=12)
    _, small = stratified_split(rest, 350 / len(rest), seed=13)
    header = ["id", "title", "text", "label"]

    def full(ids: list[tuple[str, str]]) -> list[list[str]]:
        return [[rows[row_id][name] for name in header] for row_id, _ in ids]

    return Samples(
        training=write_rows(folder / "training.csv", header, full(chosen)),
        small=write_rows(folder / "small.csv", header, full(small)),
        held_out=write_rows(
            folder / "held_out.csv",
            ["id", "text"],
            [[row_id, rows[row_id]["text"]] for row_id, _ in held],
        ),
        truth=dict(held),
    )


@pytest.fixture(scope="module")
def shared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("route-data")


@pytest.fixture
def data_dir(shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data directory holding the trained model (set again for every test: the suite
    clears HOTLINE_* variables before each one)."""
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(shared_data_dir))
    return shared_data_dir


@pytest.fixture(scope="module")
def trained(shared_data_dir: Path, samples: Samples) -> Result:
    """The 1,500-row model, written where the command puts it by default."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOTLINE_DATA_DIR", str(shared_data_dir))
        return run("train", "--data", str(samples.training), "--no-db")


@pytest.fixture
def empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["id", "label", "confidence"]
        return list(reader)


def test_train_writes_the_model_and_reports(trained: Result, data_dir: Path) -> None:
    assert trained.exit_code == 0, trained.output
    assert "examples: 1500 (CSV 1500, confirmed cases not read (--no-db))" in trained.output
    labels_line = next(line for line in trained.output.splitlines() if line.startswith("labels: "))
    assert set(labels_line.removeprefix("labels: ").split(", ")) == LABELS
    model = data_dir / "routing" / "model.npz"
    assert f"model: {model}" in trained.output
    assert model.is_file()
    assert (data_dir / "routing" / "model.json").is_file()


def test_classify_held_out_messages(
    trained: Result, data_dir: Path, samples: Samples, tmp_path: Path
) -> None:
    assert trained.exit_code == 0, trained.output
    output = tmp_path / "out.csv"
    result = run("classify", "--input", str(samples.held_out), "--output", str(output))
    assert result.exit_code == 0, result.output
    assert f"{len(samples.truth)} cases classified: {output}" in result.output
    rows = read_output(output)
    assert [row["id"] for row in rows] == list(samples.truth)
    assert {row["label"] for row in rows} <= LABELS
    assert all(len(row["confidence"].split(".")[1]) == 4 for row in rows)
    assert all(1 / len(LABELS) <= float(row["confidence"]) <= 1 for row in rows)
    score = accuracy(list(samples.truth.values()), [row["label"] for row in rows])
    assert score > 0.75, f"held-out accuracy {score:.3f}"


def test_classify_with_an_explicit_model(trained: Result, data_dir: Path, tmp_path: Path) -> None:
    cases = write_rows(
        tmp_path / "in.csv",
        ["text", "id"],
        [["小区旁边的工地晚上施工噪音太大，严重影响休息", "c1"], ["", "c2"]],
    )
    output = tmp_path / "out.csv"
    result = run(
        "classify",
        "--input",
        str(cases),
        "--output",
        str(output),
        "--model",
        str(data_dir / "routing" / "model.npz"),
    )
    assert result.exit_code == 0, result.output
    rows = read_output(output)
    assert [row["id"] for row in rows] == ["c1", "c2"]
    assert rows[0]["label"] == "环境保护"


def test_no_model_yet(empty_data_dir: Path, samples: Samples, tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    result = run("classify", "--input", str(samples.held_out), "--output", str(output))
    assert result.exit_code != 0
    assert "no routing model: run 'hotline route train'" in result.output
    assert not output.exists()


def test_bad_classify_input_leaves_the_old_output(
    trained: Result, data_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.csv"
    output.write_text("previous results\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    no_text = write_rows(tmp_path / "no_text.csv", ["id", "body"], [["1", "噪音"]])
    cases = [
        (tmp_path / "absent.csv", "no such file"),
        (no_text, "lacks column(s) text"),
        (empty, "is empty"),
    ]
    for path, message in cases:
        result = run("classify", "--input", str(path), "--output", str(output))
        assert result.exit_code != 0, path
        assert result.output.startswith("Error: ")
        assert message in result.output
    assert output.read_text(encoding="utf-8") == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "no_text.csv", "out.csv"]


def test_damaged_model(tmp_path: Path, samples: Samples) -> None:
    model = tmp_path / "model.npz"
    model.write_bytes(b"PK\x03\x04 not really a zip")
    output = tmp_path / "out.csv"
    result = run(
        "classify", "--input", str(samples.held_out), "--output", str(output), "--model", str(model)
    )
    assert result.exit_code != 0
    assert "is damaged or not a model" in result.output
    assert not output.exists()


def test_bad_training_data(empty_data_dir: Path, tmp_path: Path) -> None:
    one_label = write_rows(
        tmp_path / "one.csv",
        ["text", "label"],
        [["公交车太挤", "交通运输"], ["地铁晚点", "交通运输"]],
    )
    no_label = write_rows(tmp_path / "nolabel.csv", ["id", "text"], [["1", "公交车太挤"]])
    cases = [
        (tmp_path / "absent.csv", "no such file"),
        (no_label, "lacks column(s) label"),
        (one_label, "training needs at least two labels"),
    ]
    for path, message in cases:
        result = run("train", "--data", str(path), "--no-db")
        assert result.exit_code != 0, path
        assert message in result.output
    assert not (empty_data_dir / "routing" / "model.npz").exists()


def test_train_if_missing_keeps_an_existing_model(
    trained: Result, data_dir: Path, samples: Samples
) -> None:
    model_file = data_dir / "routing" / "model.npz"
    before = model_file.stat().st_mtime_ns
    kept = run("train", "--data", str(samples.small), "--no-db", "--if-missing")
    assert kept.exit_code == 0 and "exists, kept" in kept.output
    assert model_file.stat().st_mtime_ns == before


def test_train_adds_the_categories_confirmed_at_dispatch(
    samples: Samples, tmp_path: Path, empty_data_dir: Path
) -> None:
    empty_data_dir.mkdir()
    settings = Settings(data_dir=empty_data_dir)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    config = register.IntakeConfig(
        ZoneInfo("Asia/Shanghai"), settings.case_number_format, settings.attachments_dir, 1024, 1
    )
    for title, category in [("路灯坏了很久没人修", "城乡建设"), ("出租车拒载", "交通运输")]:
        case = register.register(
            sessions,
            config,
            {
                "received_at": "2026-11-20T09:30",
                "channel": "walk_in",
                "case_type": "suggestion",
                "complainant_name": "张三",
                "complainant_phone": "13800138000",
                "title": title,
                "content": title,
            },
            [],
            "op1",
            now,
        )
        with transaction(sessions) as session:
            stored = session.get(Case, case.id)
            assert stored is not None
            suggestions.confirm(
                session, suggestions.ModelCache(tmp_path / "none.npz"), stored, category, "op1", now
            )
    engine.dispose()
    output = tmp_path / "model.npz"
    result = run("train", "--data", str(samples.small), "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "examples: 352 (CSV 350, confirmed cases 2)" in result.output
    assert output.is_file()


def test_train_reads_the_real_database(
    samples: Samples, tmp_path: Path, empty_data_dir: Path
) -> None:
    empty_data_dir.mkdir()
    migrate.upgrade(Settings(data_dir=empty_data_dir).effective_database_url)
    output = tmp_path / "model.npz"
    result = run("train", "--data", str(samples.small), "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "examples: 350 (CSV 350, confirmed cases 0)" in result.output
