"""The routing classifier (training, suggestions, saving without pickle), the ASR-noise
simulator and the evaluation helpers: no database, synthetic data."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.metrics import f1_score

from bench.asr_noise import (
    COMMON_CHARACTERS,
    HOMOPHONE_GROUPS,
    add_asr_noise,
    confusion,
    strip_punctuation,
)
from bench.routing_eval import (
    accuracy,
    macro_f1,
    near_duplicate_groups,
    per_label_f1,
    stratified_split,
)
from dispatch.routing import classifier
from dispatch.routing.classifier import (
    Parameters,
    RoutingModel,
    RoutingModelError,
    Suggestion,
    data_fingerprint,
    normalise,
    read_cases_csv,
    read_labelled_csv,
    train,
    write_suggestions_csv,
)

TOPICS = {
    "交通运输": ["公交车", "地铁站", "出租车", "红绿灯", "高速路口", "驾驶员"],
    "环境保护": ["噪音扰民", "污水排放", "垃圾焚烧", "刺鼻臭味", "粉尘污染", "油烟"],
    "教育文体": ["学校", "老师", "学生", "课外补习", "入学考试", "幼儿园"],
    "卫生计生": ["医院", "医生", "看病", "挂号", "药品价格", "生育证"],
}
FILLER = [
    "我们小区",
    "请领导",
    "尽快处理",
    "反映一个问题",
    "附近",
    "最近一个月",
    "非常严重",
    "希望",
    "有关部门",
    "谢谢",
]


def message(label: str, rng: random.Random) -> str:
    words = rng.sample(TOPICS[label], 2) + rng.sample(FILLER, 4)
    rng.shuffle(words)
    return "，".join(words) + "。"


def examples(
    per_label: int,
    seed: int,
    labels: list[str] | None = None,
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [
        (message(label, rng), label) for label in labels or sorted(TOPICS) for _ in range(per_label)
    ]


@pytest.fixture(scope="module")
def model() -> RoutingModel:
    return train(examples(40, seed=1))


# --- model ---------------------------------------------------------------------------------


def test_normalise_folds_width_case_punctuation_and_digits() -> None:
    assert normalise("ＡＢＣ，2023年5月！ 路 _x") == "abc0年0月路x"
    assert normalise("，。！") == ""


def test_learns_the_topics(model: RoutingModel) -> None:
    held_out = examples(10, seed=2)
    predicted = [s.label for s in model.classify_many([text for text, _ in held_out])]
    assert accuracy([label for _, label in held_out], predicted) >= 0.95
    assert model.labels == sorted(TOPICS)
    assert model.info["examples"] == 160
    assert model.info["label_counts"] == dict.fromkeys(TOPICS, 40)


def test_top_is_sorted_and_bounded(model: RoutingModel) -> None:
    top = model.top("地铁站附近的公交车太少", 3)
    assert top[0].label == "交通运输"
    assert len(top) == 3
    confidences = [s.confidence for s in top]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-9
    everything = model.top("地铁站附近的公交车太少", 10)
    assert len(everything) == len(TOPICS)
    assert sum(s.confidence for s in everything) == pytest.approx(1.0)


def test_classify_many_matches_top(model: RoutingModel) -> None:
    texts = ["医院挂号太难", "学校老师乱收费", "工厂油烟和噪音扰民", "", "？？？"]
    batch = model.classify_many(texts)
    assert batch == [model.top(text, 1)[0] for text in texts]
    assert model.classify_many([]) == []
    assert model.probabilities([]).shape == (0, len(TOPICS))


def test_batches_give_the_same_probabilities(
    model: RoutingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [text for text, _ in examples(5, seed=3)]
    whole = model.probabilities(texts)
    monkeypatch.setattr(classifier, "BATCH", 3)
    np.testing.assert_allclose(model.probabilities(texts), whole, rtol=1e-6)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-6)


def test_two_labels() -> None:
    two = train(examples(30, seed=4, labels=["交通运输", "教育文体"]))
    assert two.coef.shape[0] == 2
    assert two.top("学校老师", 2)[0].label == "教育文体"
    assert two.top("公交车驾驶员", 2)[0].label == "交通运输"


def test_needs_two_labels() -> None:
    with pytest.raises(RoutingModelError, match="at least two labels"):
        train(examples(5, seed=1, labels=["交通运输"]))
    with pytest.raises(RoutingModelError, match="at least two labels"):
        train([])


def test_bad_parameters() -> None:
    with pytest.raises(RoutingModelError, match="n-gram"):
        train(examples(5, seed=1), Parameters(ngram_min=3, ngram_max=2))


def test_fingerprint_ignores_order() -> None:
    pairs = examples(3, seed=1)
    assert data_fingerprint(pairs) == data_fingerprint(list(reversed(pairs)))
    assert data_fingerprint(pairs) != data_fingerprint(pairs[1:])


# --- saving ---------------------------------------------------------------------------------


def test_round_trip_gives_identical_probabilities(model: RoutingModel, tmp_path: Path) -> None:
    path = tmp_path / "routing" / "model.npz"
    model.save(path)
    loaded = RoutingModel.load(path)
    texts = [text for text, _ in examples(5, seed=7)] + ["", "噪音"]
    assert np.array_equal(loaded.probabilities(texts), model.probabilities(texts))
    assert loaded.labels == model.labels
    assert loaded.params == model.params
    assert loaded.info == model.info
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["labels"] == model.labels
    assert meta["examples"] == 160
    assert len(meta["data_sha256"]) == 64
    assert meta["parameters"]["ngram_max"] == model.params.ngram_max
    assert "created" in meta
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.json", "model.npz"]


def test_model_file_holds_no_pickle(model: RoutingModel, tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)


def test_failed_save_keeps_the_old_model(
    model: RoutingModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.npz"]


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(RoutingModelError, match="no routing model at"):
        RoutingModel.load(tmp_path / "absent.npz")


def save_arrays(path: Path, **arrays: Any) -> None:
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("garbage", "damaged or not a model"),
        ("truncated", "damaged or not a model"),
        ("no meta", "damaged or not a model"),
        ("pickled meta", "damaged or not a model"),
        ("other format", "is not a routing model"),
        ("old version", "format version 0, expected 1: train it again"),
        ("wrong shapes", r"inconsistent \(array shapes\)"),
    ],
)
def test_damaged_model(model: RoutingModel, tmp_path: Path, damage: str, message: str) -> None:
    path = tmp_path / "model.npz"
    model.save(path)
    arrays: dict[str, npt.NDArray[Any]] = {
        "columns": model.columns,
        "idf": model.idf,
        "coef": model.coef,
        "intercept": model.intercept,
    }
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))

    def rewrite(meta: object, **changed: npt.NDArray[Any]) -> None:
        encoded = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        save_arrays(path, **{**arrays, **changed}, meta=encoded)

    if damage == "garbage":
        path.write_bytes(b"not a model at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "no meta":
        save_arrays(path, **arrays)
    elif damage == "pickled meta":
        save_arrays(path, **arrays, meta=np.array([meta], dtype=object))
    elif damage == "other format":
        rewrite({**meta, "format": "something-else"})
    elif damage == "old version":
        rewrite({**meta, "version": 0})
    else:
        rewrite(meta, idf=model.idf[:5])
    with pytest.raises(RoutingModelError, match=message):
        RoutingModel.load(path)


# --- CSV files ------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_labelled_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        '\ufeffid,title,text,label\n1,,"公交车, 太挤",交通运输\n2,标题,学校收费, 自定义标签 \n',
    )
    assert read_labelled_csv(path) == [("公交车, 太挤", "交通运输"), ("学校收费", "自定义标签")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("text,label\n", "no rows"),
        ("text,category\n公交车,交通运输\n", "lacks column.*label"),
        ("text,label\n公交车,\n", "line 2: empty text or label"),
    ],
)
def test_bad_labelled_csv(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(RoutingModelError, match=message):
        read_labelled_csv(write(tmp_path / "bad.csv", content))


def test_unreadable_csv(tmp_path: Path) -> None:
    with pytest.raises(RoutingModelError, match="no such file"):
        read_labelled_csv(tmp_path / "absent.csv")
    (tmp_path / "latin.csv").write_bytes("text,label\n\xe9t\xe9,x\n".encode("latin-1"))
    with pytest.raises(RoutingModelError, match="UTF-8"):
        read_labelled_csv(tmp_path / "latin.csv")


def test_cases_csv_and_suggestions(tmp_path: Path) -> None:
    assert read_cases_csv(write(tmp_path / "none.csv", "id,text\n")) == []
    cases = read_cases_csv(write(tmp_path / "in.csv", "id,text,extra\nA1,噪音,x\nA2,,y\n"))
    assert cases == [("A1", "噪音"), ("A2", "")]
    out = tmp_path / "out" / "result.csv"
    write_suggestions_csv(
        out, ["A1", "A2"], [Suggestion("环境保护", 0.912345), Suggestion("交通运输", 1.0)]
    )
    assert out.read_text(encoding="utf-8") == (
        "id,label,confidence\nA1,环境保护,0.9123\nA2,交通运输,1.0000\n"
    )


# --- ASR noise ------------------------------------------------------------------------------

LONG_TEXT = "".join(HOMOPHONE_GROUPS) * 10 + "，我家楼下的饭店每天晚上噪音很大。" * 50


def test_noise_is_deterministic() -> None:
    first = add_asr_noise(LONG_TEXT, 0.2, random.Random(42))
    assert first == add_asr_noise(LONG_TEXT, 0.2, random.Random(42))
    assert first != add_asr_noise(LONG_TEXT, 0.2, random.Random(43))


def test_no_noise_only_drops_punctuation() -> None:
    assert add_asr_noise("你好，世界！ ABC", 0.0, random.Random(1)) == "你好世界ABC"
    assert (
        add_asr_noise("你好，世界！", 0.0, random.Random(1), drop_punctuation=False)
        == "你好，世界！"
    )
    assert strip_punctuation("（一）１２３、ｏｋ") == "一123ok"


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.2, 0.4])
def test_substitutions_change_about_rate_of_the_characters(rate: float) -> None:
    clean = strip_punctuation(LONG_TEXT)
    noisy = add_asr_noise(LONG_TEXT, rate, random.Random(7), deletion_share=0.0)
    assert len(noisy) == len(clean)
    changed = sum(a != b for a, b in zip(clean, noisy, strict=True)) / len(clean)
    assert changed == pytest.approx(rate, abs=0.025)


@pytest.mark.parametrize("rate", [0.1, 0.2])
def test_deletions_remove_about_rate_of_the_characters(rate: float) -> None:
    clean = strip_punctuation(LONG_TEXT)
    noisy = add_asr_noise(LONG_TEXT, rate, random.Random(7), deletion_share=1.0)
    assert 1 - len(noisy) / len(clean) == pytest.approx(rate, abs=0.025)
    mixed = add_asr_noise(LONG_TEXT, rate, random.Random(7))
    assert 1 - len(mixed) / len(clean) == pytest.approx(rate * 0.25, abs=0.02)


def test_confusions_prefer_homophones() -> None:
    rng = random.Random(3)
    group_of = {char: group for group in HOMOPHONE_GROUPS for char in group}
    heard = [(char, confusion(char, rng)) for char in "".join(HOMOPHONE_GROUPS) * 5]
    assert all(original != other for original, other in heard)
    same_sound = sum(other in group_of[original] for original, other in heard) / len(heard)
    assert 0.7 < same_sound < 0.9
    assert confusion("龘", rng) in COMMON_CHARACTERS


def test_homophone_table_is_well_formed() -> None:
    counts = Counter(char for group in HOMOPHONE_GROUPS for char in group)
    assert [char for char, n in counts.items() if n > 1] == []
    assert all(len(group) >= 2 for group in HOMOPHONE_GROUPS)
    assert len(set(COMMON_CHARACTERS)) == len(COMMON_CHARACTERS)


def test_bad_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        add_asr_noise("你好", 1.5, random.Random(1))


# --- evaluation -----------------------------------------------------------------------------


def test_accuracy_and_f1_on_known_cases() -> None:
    truth = ["a", "a", "b", "b"]
    predicted = ["a", "b", "b", "b"]
    assert accuracy(truth, predicted) == 0.75
    assert per_label_f1(truth, predicted) == {"a": pytest.approx(2 / 3), "b": pytest.approx(0.8)}
    assert macro_f1(truth, predicted) == pytest.approx((2 / 3 + 0.8) / 2)
    assert per_label_f1(truth, predicted, ["a", "b", "c"])["c"] == 0.0
    assert macro_f1(["x"], ["x"]) == 1.0
    assert accuracy([], []) == 0.0


def test_metrics_agree_with_sklearn() -> None:
    rng = random.Random(5)
    truth = [rng.choice("abcd") for _ in range(300)]
    predicted = [label if rng.random() < 0.6 else rng.choice("abcd") for label in truth]
    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"))


def test_metrics_need_equal_lengths() -> None:
    with pytest.raises(ValueError, match="2 true labels but 1"):
        accuracy(["a", "b"], ["a"])


def test_stratified_split() -> None:
    data = [(f"t{i}", "a") for i in range(100)] + [(f"u{i}", "b") for i in range(30)]
    train_part, test_part = stratified_split(data, 0.2, seed=1)
    assert Counter(label for _, label in test_part) == {"a": 20, "b": 6}
    assert sorted(train_part + test_part) == sorted(data)
    assert stratified_split(data, 0.2, seed=1) == (train_part, test_part)
    assert stratified_split(data, 0.2, seed=2)[1] != test_part
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(data, 1.0, seed=1)


def test_split_keeps_groups_together() -> None:
    data = [(f"t{i}", "a" if i % 3 else "b") for i in range(90)]
    groups = [i // 3 for i in range(90)]
    for seed in range(5):
        _, test_part = stratified_split(data, 0.3, seed, groups=groups)
        tested = {int(text[1:]) // 3 for text, _ in test_part}
        assert len(test_part) == 3 * len(tested)


def test_near_duplicate_groups() -> None:
    texts = [
        "小区门口的垃圾站每天散发臭味，请尽快处理",
        "小区门口的垃圾站每天散发臭味，请尽快处理！",
        "孩子所在的学校乱收补课费",
    ]
    groups = near_duplicate_groups(texts, chunk=1)
    assert groups[0] == groups[1] != groups[2]
    assert near_duplicate_groups([]) == []
