"""Chinese personal names with their pinyin, drawn the way the population is.

Surnames follow the national ranking of the Ministry of Public Security (《二〇二〇年全国姓名报告》: the five
largest surnames hold 30.8% of the registered population, the top hundred ~85.9%); given names are one
or two characters from pools that change with the birth decade (建国 and 秀英 in the 1950s, 子轩 and 梓涵
after 2010). Pinyin is precomputed once per surname and per character with `countycare.core.pinyin`, so a
generated name's pinyin is exactly what the registry computes for the same name.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate

from countycare.core import pinyin

# Ranked top 100 (2020 ranking, 公安部户政管理研究中心) with the share (%) of the first ten; below rank 10
# the shares fall smoothly so that the hundred sum to 85.9%.
TOP_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
TOP_TEN_SHARES = (7.1, 7.0, 6.6, 5.4, 4.7, 3.3, 2.4, 2.3, 2.0, 1.9)
# A sample of the long tail (14.1% of the population), including polyphonic surnames (单 shan, 解 xie,
# 仇 qiu, 区 ou, 查 zha, 翟 zhai, 缪 miao, 柏 bai) that pinyin search must read as surnames.
TAIL_SURNAMES = (
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查"
)
# Compound surnames with their registered counts (2020 report): 欧阳 1.112 million (0.079%), 上官 88,000...
COMPOUND_SURNAMES = (
    ("欧阳", 0.079),
    ("上官", 0.0063),
    ("皇甫", 0.0046),
    ("令狐", 0.0039),
    ("诸葛", 0.0034),
    ("司徒", 0.0033),
    ("司马", 0.0016),
)
TOP_HUNDRED_SHARE = 85.9


def _surname_weights() -> list[tuple[str, float]]:
    top = list(TOP_SURNAMES)
    rest_share = TOP_HUNDRED_SHARE - sum(TOP_TEN_SHARES)
    decay = [0.97**i for i in range(len(top) - 10)]
    scale = rest_share / sum(decay)
    weights = list(zip(top, [*TOP_TEN_SHARES, *(d * scale for d in decay)], strict=True))
    compound_share = sum(share for _, share in COMPOUND_SURNAMES)
    tail = list(TAIL_SURNAMES)
    tail_decay = [0.985**i for i in range(len(tail))]
    tail_scale = (100 - TOP_HUNDRED_SHARE - compound_share) / sum(tail_decay)
    weights += [(s, d * tail_scale) for s, d in zip(tail, tail_decay, strict=True)]
    weights += list(COMPOUND_SURNAMES)
    return weights


# Given-name characters by era of birth and sex: (first characters, second characters / single names).
GIVEN_NAME_POOLS: dict[tuple[int, str], tuple[str, str]] = {
    (1900, "male"): (
        "建国志德文明永金玉春振光树新庆学宝保忠家世俊兴有洪正福和",
        "国华明军平强林生荣成民山才发祥贵福全清海良忠东富昌义友勇宏",
    ),
    (1900, "female"): (
        "秀桂玉淑凤翠春金兰美英素丽月冬爱巧菊彩桃",
        "英兰珍芳华梅花琴云霞莲芝娥凤香荣秀仙菊娟",
    ),
    (1970, "male"): (
        "志建海俊永伟晓小文红国卫立军明勇庆春东宏新振金剑鹏德",
        "伟强军勇杰涛斌明辉刚磊峰波超鹏飞华林平亮龙东宇兵锋松彬",
    ),
    (1970, "female"): ("丽红晓小秀艳海春美玉雪丹静文冬燕敏慧金亚", "丽红燕艳霞芳娟敏静英玲萍梅莉华琴云丹慧"),
    (1990, "male"): (
        "子浩宇俊家晨嘉志鑫博文一天明思建振凯泽佳雨",
        "轩然豪杰宇航涛鑫阳浩博磊凯晨伟鹏辉彬翔健龙铭琪帆",
    ),
    (1990, "female"): (
        "佳欣雨晓思梦诗雪丽婷静慧文嘉紫心一美晶玉",
        "怡琪婷悦雪涵琳颖倩洁丹蕾瑶萱妍璐敏静丽月",
    ),
    (2005, "male"): (
        "子梓浩宇俊一博文沐奕睿皓宸泽晨嘉铭煜明思恩",
        "轩宸睿泽浩然航阳辰铭博宇豪川熙霖洋诚恒凯杰",
    ),
    (2005, "female"): ("梓子欣一雨诗可思紫若语佳沐依梦安芷悦亦", "涵萱怡彤琪妍溪悦然瑶菲冉宁桐琳希诺曦歆"),
}
# Share of one-character given names by era (single names peaked with those born in the 1970s-1990s).
SINGLE_NAME_SHARE = {1900: 0.10, 1970: 0.25, 1990: 0.15, 2005: 0.08}


def _era(birth_year: int) -> int:
    return (
        2005 if birth_year >= 2005 else 1990 if birth_year >= 1990 else 1970 if birth_year >= 1970 else 1900
    )


@dataclass(frozen=True)
class Name:
    name: str
    pinyin: str
    initials: str


class NameMaker:
    """Draws names from a seeded RNG; precomputes every reading once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        weights = _surname_weights()
        self.surnames = [s for s, _ in weights]
        self.cum_weights = list(accumulate(w for _, w in weights))
        self.surname_reading: dict[str, tuple[str, str]] = {}
        for s in self.surnames:
            # read the surname the way core.pinyin reads the start of a full name, then drop the placeholder
            parts = pinyin.syllables(s + "一")
            self.surname_reading[s] = ("".join(parts[:-1]), pinyin.initials(s + "一")[:-1])
        chars = sorted({c for first, second in GIVEN_NAME_POOLS.values() for c in first + second})
        self.char_reading = {c: pinyin.full(c) for c in chars}

    def surname(self) -> str:
        return self.surnames[bisect(self.cum_weights, self.rng.random() * self.cum_weights[-1])]

    def given(self, sex: str, birth_year: int) -> str:
        era = _era(birth_year)
        first, second = GIVEN_NAME_POOLS[(era, "female" if sex == "female" else "male")]
        rng = self.rng
        if rng.random() < SINGLE_NAME_SHARE[era]:
            return rng.choice(second)
        a = rng.choice(first)
        if sex == "female" and rng.random() < 0.03:
            return a + a  # 叠字 (婷婷, 丽丽)
        b = rng.choice(second)
        while b == a:
            b = rng.choice(second)
        return a + b

    def make(self, sex: str, birth_year: int, surname: str | None = None) -> Name:
        surname = surname or self.surname()
        given = self.given(sex, birth_year)
        full, initials = self.surname_reading[surname]
        reading = self.char_reading
        return Name(
            surname + given,
            full + "".join(reading[c] for c in given),
            initials + "".join(reading[c][0] for c in given),
        )
