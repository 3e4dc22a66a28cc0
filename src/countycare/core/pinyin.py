"""Pinyin keys for looking people up the way clinicians type them: 张三 -> "zs" / "zhangsan".

pypinyin reads polyphonic surnames with their common reading (曾 -> ceng, 单 -> dan, 解 -> jie); the
first character of a personal name is read with the surname dictionary instead (曾 -> zeng, 单 -> shan).
"""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal

# Readings of polyphonic characters when used as a surname (常见多音字姓氏).
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "朴": "piao", "区": "ou", "查": "zha",
    "盖": "ge", "乐": "yue", "华": "hua", "任": "ren", "燕": "yan", "纪": "ji", "尉": "yu",
    "万俟": "moqi", "尉迟": "yuchi", "缪": "miao", "翟": "zhai", "覃": "qin", "沈": "shen",
    "长孙": "zhangsun", "柏": "bai", "秘": "bi", "繁": "po", "员": "yun", "种": "chong", "召": "shao",
    "宓": "mi", "葛": "ge", "殷": "yin", "隗": "wei", "句": "gou", "藏": "zang", "贲": "ben",
}
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "万俟", "长孙", "令狐", "慕容", "司徒")


@lru_cache(maxsize=8192)
def _char_reading(char: str) -> str:
    syllables = lazy_pinyin(char, style=Style.NORMAL, errors=lambda item: [c.lower() for c in item])
    return "".join(syllables)


def syllables(name: str) -> list[str]:
    """One lowercase pinyin syllable per character (non-Chinese characters are kept, lowercased)."""
    name = "".join(name.split())
    if not name:
        return []
    result: list[str] = []
    rest = name
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), None)
    if surname:
        reading = SURNAME_READINGS.get(surname)
        if reading:
            result.append(reading)
        else:
            result.extend(_char_reading(c) for c in surname)
        rest = name[len(surname):]
    elif name[0] in SURNAME_READINGS and len(name) > 1:
        result.append(SURNAME_READINGS[name[0]])
        rest = name[1:]
    result.extend(_char_reading(c) for c in rest)
    return [to_normal(s) for s in result]


def initials(name: str) -> str:
    """张三 -> "zs"; compound surnames give one letter per character (欧阳修 -> "oyx")."""
    parts = syllables(name)
    # a compound surname read as one string (e.g. "zhangsun") still gives one initial per character
    out = []
    name = "".join(name.split())
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), None)
    if surname and surname in SURNAME_READINGS:
        out.extend(_char_reading(c)[:1] for c in surname)
        parts = parts[1:]
    out.extend(p[:1] for p in parts)
    return "".join(out)


def full(name: str) -> str:
    """张三 -> "zhangsan"."""
    return "".join(syllables(name))
