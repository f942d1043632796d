"""热点诉求 (issue 17; 国办函〔2025〕66号: 高频共性、季节性周期性、风险性苗头性): what citizens
call about more than usual, as pure functions of the period's appeals.

- **Rising topics.** Categories (the case's 类别), places (the address's place, see
  :func:`place_of`) and terms (character n-grams of the titles, no segmenter:
  :func:`terms_of`) counted in the period, in the period before (环比) and in the same
  period a year earlier (同比), as ``figures.Figure`` counts compared by ``figures.Change``.
  Terms come from the title, the operator's summary naming the appeal's subject: the
  citizen's own account is some twenty times longer, mostly words any appeal uses, and a
  month of them is too much text to cut into n-grams on each page view.
  A topic *rises* against an earlier period when it has at least ``min_count`` cases now
  and either had none then (新出现) or grew by ``min_growth`` or more: with the defaults
  (5 cases, +50 %) 1 → 3 is not "rising 200 %", 4 → 6 is, 2 → 5 is.
- **Clusters.** Cases of the period about the same place (normalised address), the same
  subject (the unit complained about, else the unit and window as typed) or with
  near-duplicate titles (character-bigram Dice ≥ ``TITLE_LIKENESS``,
  ``dispatch.knowledge.text_similarity``), two cases or more.
- **Risk signals** (风险性苗头性): a cluster with ``min_callers`` distinct telephone numbers
  or more within ``span`` (defaults: 5 numbers within 24 hours), flagged with the cases of
  the busiest such span for the supervisor.

Every appeal of the period counts, merged ones (并单) too: ten callers about one incident
is exactly the signal. A count is of distinct cases (a term said twice in one case counts
once). Pure: ``Appeal`` rows in, counts, clusters and signals out.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dispatch.indicators.figures import Change, Definition, Figure, Measure, Subject, count
from dispatch.indicators.periods import Period, previous, year_earlier
from dispatch.knowledge import text_similarity

MIN_COUNT = 5  # cases in the period before a topic may be called rising
MIN_GROWTH = 0.5  # +50 % against the earlier period
MIN_CALLERS = 5  # distinct telephone numbers …
SPAN = dt.timedelta(hours=24)  # … within this time, on one place, subject or title
MIN_CLUSTER = 2  # cases that make a cluster
TITLE_LIKENESS = 0.6  # bigram Dice of two titles telling the same thing
TOP = 20  # rows per table of topics


class Kind(StrEnum):
    CATEGORY = "category"
    PLACE = "place"
    TERM = "term"
    SUBJECT = "subject"
    TITLE = "title"


KIND_LABELS = {
    Kind.CATEGORY: "类别",
    Kind.PLACE: "地点",
    Kind.TERM: "关键词",
    Kind.SUBJECT: "被反映对象",
    Kind.TITLE: "相似标题",
}


def _define(key: str, name: str, formula: str) -> Definition:
    return Definition(key, name, formula, Measure.COUNT, Subject.CASE, __name__)


_RISING = (
    f"期内件数不少于{MIN_COUNT}件，且上期为0件（新出现）或增长{MIN_GROWTH:.0%}及以上；"
    "增长率 =（本期件数 − 上期件数）÷ 上期件数"
)
CATEGORY = _define("hot.category", "类别诉求量", f"期内登记的该类别诉求件数（含并单件）。{_RISING}")
PLACE = _define(
    "hot.place",
    "地点诉求量",
    "期内地址归于该地点（去掉楼栋、门牌、单元、室号）的诉求件数（含并单件）。" + _RISING,
)
TERM = _define(
    "hot.term",
    "关键词诉求量",
    "期内标题含该词（连续汉字，去掉通用词）的诉求件数，一件只计一次。" + _RISING,
)
CLUSTER = _define(
    "hot.cluster",
    "重复诉求",
    f"期内同一地点、同一被反映对象或标题相近（字符二元组相似度不低于{TITLE_LIKENESS:.0%}）"
    f"的诉求{MIN_CLUSTER}件及以上",
)
RISK = _define(
    "hot.risk",
    "风险苗头",
    f"同一地点、同一被反映对象或相近标题的诉求，在{SPAN.total_seconds() / 3600:.0f}小时内"
    f"来自{MIN_CALLERS}个及以上不同电话号码",
)
DEFINITIONS = (CATEGORY, PLACE, TERM, CLUSTER, RISK)
_DEFINITION_OF = {Kind.CATEGORY: CATEGORY, Kind.PLACE: PLACE, Kind.TERM: TERM}


@dataclass(frozen=True)
class Appeal:
    """One case as the hot topics read it (``cases`` columns)."""

    id: str
    number: str
    received_at: dt.datetime
    category: str = ""
    phone: str = ""  # complainant_phone
    address: str = ""  # complainant_address
    subject_unit: str = ""
    subject_window: str = ""
    complained_unit_id: str | None = None
    title: str = ""


# -- keys: normalised places, subjects, phones and terms ----------------------------------------

_KEEP = re.compile(r"[\w]+")
# A building, entrance, floor, flat or house number and everything after it: 3栋502, 18号,
# 2单元301室, 5号楼, 3号院, 十二栋… (Arabic or Chinese numerals).
_UNIT_TAIL = re.compile(
    r"[0-9零〇一二三四五六七八九十百千]+(?:号楼|号院|栋|幢|座|单元|号|室|楼|层|户).*$"
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _fold(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and spaces dropped."""
    return "".join(_KEEP.findall(unicodedata.normalize("NFKC", text).lower())).replace("_", "")


def place_of(address: str) -> str:
    """The place of an address: folded (``_fold``) and cut before its building, flat or
    house number, so that 幸福里小区3栋502 and 幸福里小区 5 栋 101室 are one place (幸福里小区),
    and 建设路18号 is 建设路. "" when nothing is left."""
    cut = _UNIT_TAIL.sub("", _fold(address))
    return cut if len(cut) >= 2 else ""


def subject_of(appeal: Appeal) -> str:
    """What the appeal is about: the unit complained about (``unit:<id>``) when the centre
    named one, else the unit and window as typed, folded (``text:<…>``); "" for neither."""
    if appeal.complained_unit_id:
        return f"unit:{appeal.complained_unit_id}"
    typed = _fold(appeal.subject_unit + appeal.subject_window)
    return f"text:{typed}" if typed else ""


def caller_of(appeal: Appeal) -> str:
    """The caller's number in digits, without a +86/86 country prefix ("" when unknown)."""
    digits = "".join(ch for ch in appeal.phone if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


# Words that say nothing about what the appeal is about: how people complain, not what of.
_STOP_TEXT = """反映 投诉 咨询 举报 求助 建议 问题 情况 来电 市民 群众 诉求 要求 希望 处理 解决 相关
    部门 单位 政府 工作 人员 现在 目前 一直 已经 没有 不能 可以 什么 怎么 如何
    这个 那个 一个 我们 他们 你们 自己 今天 昨天 每天 时候 时间 地方 表示 电话 联系 回复 办理
    帮助 协调 尽快 严重 影响 存在 进行 发现 出现 造成 导致 关于 由于 因为 所以 但是 而且 还是
    或者 以及 及时 多次 长期 经常 不好 非常 特别 比较 有关 了解 知道 告知 说明 本人
    反馈 核实 落实 督促 请求 给予 予以 一下 不是 这样 那样 这里 那里 之前 以后 以前 后来 附近
    周边 现场 当时 至今 多年"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
# Characters that begin or end no topic word (particles, pronouns, connectives).
_EDGE = frozenset(
    "的了是在和与及也就都而并或吗呢吧啊呀我你他她它们这那被把给对从向为等已很还又要请"
    "没说到会能让个些着过将该其此每因但却所于"
)
TERM_LENGTHS = (2, 3, 4)


# Stop words (longest first) and the particles that always end a phrase cut the text into
# the pieces terms are taken from, so no term straddles one (严重影响 leaves no 重影).
_BREAKS = re.compile(
    "|".join(sorted(STOP_WORDS, key=lambda word: (-len(word), word))) + "|[的了吗呢吧啊呀]"
)


@functools.lru_cache(maxsize=65536)
def terms_of(text: str) -> frozenset[str]:
    """The candidate topic words of a text: every run of 2 to 4 Chinese characters inside
    a piece of Chinese text (never across punctuation, digits, Latin letters, a stop word
    of ``STOP_WORDS`` or the particles 的了吗呢吧啊呀), without runs that begin or end with
    a particle, pronoun or connective. Cached: titles repeat, and each is read for the
    period, the one before and the year before."""
    found: set[str] = set()
    edge = _EDGE
    for run in _HAN.findall(unicodedata.normalize("NFKC", text)):
        for piece in _BREAKS.split(run):
            size = len(piece)
            found.update(
                piece[i : i + n]
                for n in TERM_LENGTHS
                for i in range(size - n + 1)
                if piece[i] not in edge and piece[i + n - 1] not in edge
            )
    return frozenset(found)


def appeal_terms(appeal: Appeal) -> frozenset[str]:
    return terms_of(appeal.title)


# -- counting and rising ------------------------------------------------------------------------

KeyOf = Callable[[Appeal], Iterable[str]]


def category_keys(appeal: Appeal) -> tuple[str, ...]:
    return (appeal.category,) if appeal.category else ()


def place_keys(appeal: Appeal) -> tuple[str, ...]:
    place = place_of(appeal.address)
    return (place,) if place else ()


KEYS: dict[Kind, KeyOf] = {
    Kind.CATEGORY: category_keys,
    Kind.PLACE: place_keys,
    Kind.TERM: appeal_terms,
}


def tally(appeals: Iterable[Appeal], key_of: KeyOf) -> dict[str, list[str]]:
    """key -> the ids of the appeals with that key, in the appeals' order."""
    found: dict[str, list[str]] = defaultdict(list)
    for appeal in appeals:
        for key in set(key_of(appeal)):
            found[key].append(appeal.id)
    return dict(found)


@dataclass(frozen=True)
class Topic:
    """One category, place or term: its cases now, 环比 and 同比."""

    kind: Kind
    key: str
    figure: Figure  # the period's count and the cases behind it
    month_on_month: Change  # against the period before (环比, whatever the period's kind)
    year_on_year: Change  # against the same period a year earlier (同比)
    min_count: int = MIN_COUNT
    min_growth: float = MIN_GROWTH

    @property
    def count(self) -> int:
        return len(self.figure.ids)

    def rises(self, change: Change) -> bool:
        """At least ``min_count`` cases now, and none then (新出现) or ``min_growth`` more."""
        now, then = change.current.value or 0.0, change.earlier.value or 0.0
        if now < self.min_count:
            return False
        if then == 0:
            return True
        return (now - then) / then >= self.min_growth

    @property
    def rising_month_on_month(self) -> bool:
        return self.rises(self.month_on_month)

    @property
    def rising_year_on_year(self) -> bool:
        return self.rises(self.year_on_year)

    @property
    def rising(self) -> bool:
        return self.rising_month_on_month or self.rising_year_on_year


def _phrases(terms: Iterable[str], texts: Sequence[str]) -> list[str]:
    """The longest phrases the terms of one set of cases make: where the terms overlap in
    one of the cases' texts they are joined, if every case says the joined phrase (else the
    terms stay as they are); then any phrase inside another is dropped (夜间施工, 间施工噪 and
    施工噪音 are 夜间施工噪音). Linear in the text and the terms, however many there are."""
    wanted = set(terms)
    reference = min(texts, key=len)  # every term of the set is in every one of its texts
    spans: list[tuple[int, int]] = []
    for term in wanted:
        start = reference.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = reference.find(term, start + 1)
    spans.sort()
    joined: list[list[int]] = []
    for start, end in spans:
        if joined and start < joined[-1][1]:  # overlapping by one character or more
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    phrases: set[str] = set()
    for start, end in joined:
        phrase = reference[start:end]
        if phrase in wanted or all(phrase in text for text in texts):
            phrases.add(phrase)
        else:
            phrases.update(term for term in wanted if term in phrase)
    return [p for p in phrases if not any(p != other and p in other for other in phrases)]


def _maximal(counted: dict[str, list[str]], texts: dict[str, str]) -> dict[str, list[str]]:
    """Terms as whole phrases, without their fragments: the terms standing for exactly the
    same cases joined into the phrases they make (``_phrases``; 噪音扰 and 音扰民 become
    噪音扰民); a shorter term for more cases stays (噪音, if some case says 噪音 without
    扰民)."""
    by_cases: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for term, ids in counted.items():
        by_cases[tuple(sorted(ids))].append(term)
    kept: dict[str, list[str]] = {}
    for cases, terms in by_cases.items():
        for phrase in _phrases(terms, [texts[i] for i in cases]):
            kept[phrase] = counted.get(phrase) or counted[_any_part(phrase, terms)]
    return kept


def _any_part(phrase: str, terms: Iterable[str]) -> str:
    return next(term for term in terms if term in phrase)


def _text(appeal: Appeal) -> str:
    return unicodedata.normalize("NFKC", appeal.title)


def _containing(wanted: Iterable[str], appeals: Sequence[Appeal]) -> dict[str, list[str]]:
    """phrase -> the appeals whose title has it. A term is looked up in each title's terms;
    a longer phrase only in the titles holding one of its terms (then in the text), so the
    work grows with the titles, not with titles times phrases."""
    phrases = set(wanted)
    short = {p for p in phrases if len(p) <= max(TERM_LENGTHS)}
    by_probe: dict[str, list[str]] = defaultdict(list)
    for phrase in phrases - short:
        inside = terms_of(phrase)
        by_probe[min(inside) if inside else phrase[:2]].append(phrase)
    found: dict[str, list[str]] = defaultdict(list)
    for appeal in appeals:
        terms = appeal_terms(appeal)
        for term in terms & short:
            found[term].append(appeal.id)
        probes = terms & by_probe.keys()
        if probes:
            text = _text(appeal)
            for probe in probes:
                for phrase in by_probe[probe]:
                    if phrase in text:
                        found[phrase].append(appeal.id)
    return dict(found)


def topics(
    kind: Kind,
    current: Sequence[Appeal],
    previous: Sequence[Appeal],
    year_earlier: Sequence[Appeal],
    min_count: int = MIN_COUNT,
    min_growth: float = MIN_GROWTH,
) -> list[Topic]:
    """Every category, place or term of the period (terms: those of two cases or more, as
    their longest forms), the most cases first; each with 环比 and 同比."""
    key_of = KEYS[kind]
    definition = _DEFINITION_OF[kind]
    now = tally(current, key_of)
    if kind is Kind.TERM:
        texts = {appeal.id: _text(appeal) for appeal in current}
        now = _maximal({term: ids for term, ids in now.items() if len(ids) >= MIN_CLUSTER}, texts)
    wanted = set(now)

    def earlier(appeals: Sequence[Appeal]) -> dict[str, list[str]]:
        if kind is Kind.TERM:  # a phrase longer than the terms is looked for in the text
            return _containing(wanted, appeals)
        return tally(appeals, lambda appeal: [k for k in key_of(appeal) if k in wanted])

    before, year_ago = earlier(previous), earlier(year_earlier)
    found = []
    for key, ids in now.items():
        figure = count(definition, ids)
        found.append(
            Topic(
                kind,
                key,
                figure,
                Change(figure, count(definition, before.get(key, ()))),
                Change(figure, count(definition, year_ago.get(key, ()))),
                min_count,
                min_growth,
            )
        )
    return sorted(found, key=lambda topic: (-topic.count, -len(topic.key), topic.key))


def rising(found: Iterable[Topic], limit: int = TOP) -> list[Topic]:
    """The topics rising against 环比 or 同比, the most cases first, at most ``limit``."""
    return [topic for topic in found if topic.rising][:limit]


# -- clusters and risk signals ------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """Cases of the period about one place or subject, or with near-duplicate titles."""

    kind: Kind
    key: str
    appeals: tuple[Appeal, ...]  # by time received

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(appeal.id for appeal in self.appeals)

    @property
    def callers(self) -> int:
        """Distinct telephone numbers among the cases (unknown numbers not counted)."""
        return len({caller_of(a) for a in self.appeals} - {""})

    @property
    def first(self) -> dt.datetime:
        return self.appeals[0].received_at

    @property
    def last(self) -> dt.datetime:
        return self.appeals[-1].received_at


def _by_time(appeals: Iterable[Appeal]) -> tuple[Appeal, ...]:
    return tuple(sorted(appeals, key=lambda appeal: (appeal.received_at, appeal.id)))


def _grouped(
    kind: Kind, appeals: Sequence[Appeal], key_of: Callable[[Appeal], str]
) -> list[Cluster]:
    groups: dict[str, list[Appeal]] = defaultdict(list)
    for appeal in appeals:
        key = key_of(appeal)
        if key:
            groups[key].append(appeal)
    return [Cluster(kind, key, _by_time(members)) for key, members in groups.items()]


# A title bigram in more titles than this is too common to find near-duplicates by (such
# pairs are still found through their other bigrams, unless all are this common).
_COMMON_BIGRAM = 1000


def title_groups(appeals: Sequence[Appeal], likeness: float = TITLE_LIKENESS) -> list[Cluster]:
    """Appeals whose titles are near-duplicates, linked transitively (A like B, B like C: one
    group); the key is the earliest case's title.

    Prefix filtering: with each title's bigrams ordered rarest first (over the period), two
    titles with a Dice of ``likeness`` or more share at least ``likeness·n/(2−likeness)`` of a
    title's ``n`` bigrams, so they share one of the first ``n − that + 1``; only those are
    indexed and probed, and the rarest bigrams have the shortest lists."""
    grams = [text_similarity.bigrams(appeal.title) for appeal in appeals]
    seen: Counter[str] = Counter(gram for mine in grams for gram in mine)
    index: dict[str, list[int]] = defaultdict(list)
    parent = list(range(len(appeals)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, mine in enumerate(grams):
        if not mine:
            continue
        rarest = sorted(mine, key=lambda gram: (seen[gram], gram))
        shared = math.ceil(likeness * len(rarest) / (2 - likeness))
        prefix = rarest[: len(rarest) - shared + 1]
        candidates = {
            j for gram in prefix if len(index[gram]) <= _COMMON_BIGRAM for j in index[gram]
        }
        for j in candidates:
            if root(i) != root(j) and text_similarity.dice(mine, grams[j]) >= likeness:
                parent[root(j)] = root(i)
        for gram in prefix:
            index[gram].append(i)
    groups: dict[int, list[Appeal]] = defaultdict(list)
    for i, appeal in enumerate(appeals):
        groups[root(i)].append(appeal)
    clusters = []
    for members in groups.values():
        ordered = _by_time(members)
        clusters.append(Cluster(Kind.TITLE, text_similarity.normalise(ordered[0].title), ordered))
    return clusters


_ORDER = {Kind.PLACE: 0, Kind.SUBJECT: 1, Kind.TITLE: 2}


def clusters(
    appeals: Sequence[Appeal], min_size: int = MIN_CLUSTER, likeness: float = TITLE_LIKENESS
) -> list[Cluster]:
    """Places, subjects and near-duplicate titles with ``min_size`` cases or more, the
    largest first (then places, subjects, titles; then by key)."""
    found = [
        *_grouped(Kind.PLACE, appeals, lambda a: place_of(a.address)),
        *_grouped(Kind.SUBJECT, appeals, subject_of),
        *(group for group in title_groups(appeals, likeness) if group.key),
    ]
    return sorted(
        (c for c in found if len(c.appeals) >= min_size),
        key=lambda c: (-len(c.appeals), _ORDER[c.kind], c.key),
    )


@dataclass(frozen=True)
class Signal:
    """A risk signal (风险苗头): many callers about one thing within a short time."""

    cluster: Cluster  # the whole group in the period
    appeals: tuple[Appeal, ...]  # the busiest span's cases, by time received
    callers: int  # distinct numbers in that span

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(appeal.id for appeal in self.appeals)

    @property
    def first(self) -> dt.datetime:
        return self.appeals[0].received_at

    @property
    def last(self) -> dt.datetime:
        return self.appeals[-1].received_at


def busiest(appeals: Sequence[Appeal], span: dt.timedelta = SPAN) -> tuple[Appeal, ...]:
    """The run of appeals (by time received) within ``span`` of its first one with the most
    distinct callers; the earliest such run on a tie."""
    ordered = _by_time(appeals)
    best: tuple[int, int, int] = (0, 0, 0)  # callers, start, end (exclusive)
    callers: Counter[str] = Counter()
    end = 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end].received_at - first.received_at <= span:
            caller = caller_of(ordered[end])
            if caller:
                callers[caller] += 1
            end += 1
        if len(callers) > best[0]:
            best = (len(callers), start, end)
        leaving = caller_of(first)
        if leaving:
            callers[leaving] -= 1
            if not callers[leaving]:
                del callers[leaving]
    _, start, stop = best
    return ordered[start:stop]


def signals(
    found: Iterable[Cluster], min_callers: int = MIN_CALLERS, span: dt.timedelta = SPAN
) -> list[Signal]:
    """The clusters with ``min_callers`` distinct numbers or more within ``span``: each with
    its busiest span's cases, the most callers first. A signal with the very cases of one
    before it is left out (one incident, one flag: a place before a subject before a title)."""
    flagged: list[Signal] = []
    for cluster in found:
        if cluster.callers < min_callers:
            continue
        run = busiest(cluster.appeals, span)
        callers = len({caller_of(a) for a in run} - {""})
        if callers >= min_callers:
            flagged.append(Signal(cluster, run, callers))
    flagged.sort(key=lambda s: (-s.callers, _ORDER[s.cluster.kind], s.first, s.cluster.key))
    seen: set[tuple[str, ...]] = set()
    kept = []
    for signal in flagged:
        if signal.ids in seen:
            continue
        seen.add(signal.ids)
        kept.append(signal)
    return kept


# -- one period's hot topics --------------------------------------------------------------------


@dataclass(frozen=True)
class HotTopics:
    """What a period's appeals show: rising categories, places and terms (every one counted,
    with 环比 and 同比), the clusters of repeated appeals and the risk signals."""

    period: Period
    categories: tuple[Topic, ...]
    places: tuple[Topic, ...]
    terms: tuple[Topic, ...]
    clusters: tuple[Cluster, ...]
    signals: tuple[Signal, ...]
    appeals: int  # the period's appeals

    def rising(self, kind: Kind, limit: int = TOP) -> list[Topic]:
        found = {Kind.CATEGORY: self.categories, Kind.PLACE: self.places, Kind.TERM: self.terms}
        return rising(found[kind], limit)


def split(
    appeals: Iterable[Appeal], period: Period
) -> tuple[list[Appeal], list[Appeal], list[Appeal]]:
    """The appeals received in the period, in the period before it (环比) and in the same
    period a year earlier (同比), by the instant received and the period's zone."""
    before, year_ago = previous(period), year_earlier(period)
    current: list[Appeal] = []
    earlier: list[Appeal] = []
    last_year: list[Appeal] = []
    for appeal in appeals:
        if period.contains(appeal.received_at):
            current.append(appeal)
            continue
        if before.contains(appeal.received_at):  # for a year, the year before is both
            earlier.append(appeal)
        if year_ago.contains(appeal.received_at):
            last_year.append(appeal)
    return current, earlier, last_year


def hot_topics(
    appeals: Iterable[Appeal],
    period: Period,
    min_count: int = MIN_COUNT,
    min_growth: float = MIN_GROWTH,
    min_callers: int = MIN_CALLERS,
    span: dt.timedelta = SPAN,
) -> HotTopics:
    """The period's hot topics from appeals covering it, the period before and the same
    period a year earlier (others are ignored)."""
    current, earlier, last_year = split(appeals, period)

    def of(kind: Kind) -> tuple[Topic, ...]:
        return tuple(topics(kind, current, earlier, last_year, min_count, min_growth))

    grouped = clusters(current)
    return HotTopics(
        period,
        of(Kind.CATEGORY),
        of(Kind.PLACE),
        of(Kind.TERM),
        tuple(grouped),
        tuple(signals(grouped, min_callers, span)),
        len(current),
    )
