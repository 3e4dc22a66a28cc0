"""Place names and GB/T 2260-style codes of the generated county.

Codes follow the statistical division code scheme (统计用区划代码): a 6-digit county code; townships add
3 digits (街道 0xx, 镇 1xx, 乡 2xx); villages add 3 more (社区居委会 0xx-1xx, 村委会 2xx-3xx). The county
names are invented; their codes are real-looking (a real province prefix).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class CountyIdentity:
    name: str  # 青溪县
    division_code: str  # 6 digits
    province: str  # 江西省
    city: str  # 上饶市
    area_code: str  # telephone area code
    partner: str  # the out-of-county partner hospital
    partner_code: str  # its division code (a district of the provincial capital)


COUNTIES = (
    CountyIdentity("青溪县", "361129", "江西省", "上饶市", "0793", "江西省人民医院", "360102"),
    CountyIdentity("云岭县", "430529", "湖南省", "邵阳市", "0739", "湖南省人民医院", "430102"),
    CountyIdentity("枫阳县", "420529", "湖北省", "宜昌市", "0717", "湖北省人民医院", "420106"),
    CountyIdentity("松源县", "350726", "福建省", "南平市", "0599", "福建省立医院", "350102"),
    CountyIdentity(
        "桃川县", "450333", "广西壮族自治区", "桂林市", "0773", "广西壮族自治区人民医院", "450103"
    ),
    CountyIdentity("梅岭县", "341529", "安徽省", "六安市", "0564", "安徽省立医院", "340102"),
)

TOWNSHIP_NAMES = (
    "石桥",
    "龙泉",
    "白沙",
    "青山",
    "双河",
    "马坪",
    "高桥",
    "新田",
    "柳溪",
    "枫林",
    "三溪",
    "大塘",
    "长岭",
    "清水",
    "花园",
    "金竹",
    "桃源",
    "杨林",
    "梅溪",
    "松山",
    "东岳",
    "万安",
    "太平",
    "永丰",
    "黄坪",
    "河口",
    "沙坝",
    "官庄",
    "岩头",
    "杉木",
    "铁炉",
    "横岭",
    "水口",
    "竹园",
    "古城",
    "芦溪",
)
VILLAGE_FIRST = "李王张刘陈杨黄赵周吴何罗石柳枫桃竹松梅杏荷新红光和兴富安丰上下东西南北大小高坪"
VILLAGE_SECOND = "家庄坪湾岭冲塘桥坝沟铺店园山溪河村寨垸岗田洲峪"
RELATIONS = {
    "head": "户主",
    "spouse": "配偶",
    "son": "子",
    "daughter": "女",
    "father": "父亲",
    "mother": "母亲",
    "grandson": "孙子",
    "granddaughter": "孙女",
    "other": "其他",
}


def pick_county(seed: int) -> CountyIdentity:
    return COUNTIES[seed % len(COUNTIES)]


def township_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(name, kind) pairs: the county seat 城关镇 first, then towns (镇) and townships (乡)."""
    pool = list(TOWNSHIP_NAMES)
    rng.shuffle(pool)
    names = [("城关镇", "镇")]
    while len(names) < count:
        base = pool[(len(names) - 1) % len(pool)]
        if len(names) > len(pool):
            base += "新"
        kind = "镇" if rng.random() < 0.6 else "乡"
        names.append((base + kind, kind))
    return names


def village_names(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(VILLAGE_FIRST) + rng.choice(VILLAGE_SECOND)
        if len(seen) > len(VILLAGE_FIRST) * len(VILLAGE_SECOND) // 2:
            name += rng.choice("一二三四五六七八九")
        if name in seen:
            continue
        seen.add(name)
        names.append(name + "村")
    return names
