"""Speech-recognition-like damage to Chinese text, to measure how a text model copes with
phone-call transcripts. Pure and deterministic for a seeded ``random.Random``.

A recogniser mostly confuses characters that sound alike, sometimes hears an unrelated
common character, drops characters, and writes no punctuation.
"""

from __future__ import annotations

import random
import re
import unicodedata

# Groups of frequent characters that share (or nearly share) a Mandarin syllable, tones
# ignored. Written for this module; a character belongs to at most one group.
HOMOPHONE_GROUPS: tuple[str, ...] = (
    "在再载",
    "的得地德",
    "他她它塔",
    "是事市式试室示世视势适士",
    "以已意易义议亿益艺",
    "进近尽金今斤仅紧",
    "做作坐座",
    "会汇惠慧回",
    "和合河何荷",
    "工公功攻供宫",
    "心新辛欣薪信",
    "区去取曲趣驱",
    "期其起气器汽七齐",
    "房防方放访",
    "费非飞肥废",
    "交教较叫角",
    "生声升胜",
    "办半版伴",
    "里理李力利立例历",
    "经精京惊",
    "住注主助祝著",
    "路录陆鹿",
    "道到倒导岛",
    "保包报宝饱",
    "小校笑晓效",
    "学雪",
    "医一衣依",
    "题提体替",
    "问闻文",
    "城成程诚承乘",
    "建见件健检减简间",
    "设社射",
    "环还换",
    "境静敬竞",
    "通同童",
    "运云",
    "商上尚",
    "贸冒帽",
    "游有由油友又",
    "卫为位未味维围",
    "计记技济纪既",
    "动东冬懂",
    "劳老牢",
    "管关观馆",
    "收手首受",
    "资子自字",
    "员园元原远院愿",
    "民名明",
    "镇真正争整政",
    "村存寸",
    "楼漏露",
    "电点店典",
    "水税睡",
    "污无五物务屋",
    "噪造早",
    "险先线现县限显",
    "业也夜页叶",
    "单但担",
    "求球",
    "反返饭范",
    "映应影英",
    "解姐界借介",
    "决觉绝",
    "处出除储",
    "时十实石识使",
    "要药耀",
    "没每美妹",
    "情请清青",
    "安按案岸",
    "全权泉",
    "部不步布",
    "门们",
    "人仁认任",
    "天田甜",
    "长常场厂",
    "告高搞",
    "话化画华花",
    "投头",
    "诉速素",
    "领令另",
    "网往忘",
    "车扯",
)

# Frequent characters a recogniser may put anywhere.
COMMON_CHARACTERS = (
    "的一是了不在有人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工"
    "也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起"
    "小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事"
    "平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解"
    "问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及"
    "管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西"
)

_PUNCTUATION_OR_SPACE = re.compile(r"[\W_]+")
_GROUP_OF = {char: group for group in HOMOPHONE_GROUPS for char in group}


def strip_punctuation(text: str) -> str:
    """Text without punctuation, symbols or spaces, as a recogniser would write it."""
    return _PUNCTUATION_OR_SPACE.sub("", unicodedata.normalize("NFKC", text))


def confusion(char: str, rng: random.Random, homophone_share: float = 0.8) -> str:
    """A character a recogniser might hear instead of ``char``: usually a homophone when the
    table has one, otherwise a random common character (never ``char`` itself)."""
    group = _GROUP_OF.get(char, "")
    if len(group) > 1 and rng.random() < homophone_share:
        return rng.choice([other for other in group if other != char])
    while True:
        other = rng.choice(COMMON_CHARACTERS)
        if other != char:
            return other


def add_asr_noise(
    text: str,
    rate: float,
    rng: random.Random,
    *,
    deletion_share: float = 0.25,
    drop_punctuation: bool = True,
) -> str:
    """Damage about ``rate`` of the characters: each one, independently with probability
    ``rate``, is deleted (``deletion_share`` of the errors) or replaced by a confusable
    character. Punctuation is removed first unless ``drop_punctuation`` is false."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate}")
    if not 0.0 <= deletion_share <= 1.0:
        raise ValueError(f"deletion_share must be between 0 and 1, got {deletion_share}")
    source = strip_punctuation(text) if drop_punctuation else text
    heard: list[str] = []
    for char in source:
        if rng.random() >= rate:
            heard.append(char)
        elif rng.random() >= deletion_share:
            heard.append(confusion(char, rng))
    return "".join(heard)
