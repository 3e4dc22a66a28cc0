"""Pinyin keys for search: 张三 -> zs, with surname readings of polyphonic characters."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from countycare.core import pinyin


@pytest.mark.parametrize(
    "name,initials,full",
    [
        ("张三", "zs", "zhangsan"),
        ("曾国藩", "zgf", "zengguofan"),  # 曾 as a surname is zeng, not ceng
        ("单田芳", "stf", "shantianfang"),  # 单 as a surname is shan
        ("解缙", "xj", "xiejin"),
        ("欧阳修", "oyx", "ouyangxiu"),  # compound surname
        ("吕布", "lb", "lvbu"),  # ü typed as v
        ("李 四", "ls", "lisi"),
    ],
)
def test_names_give_the_keys_clinicians_type(name, initials, full):
    assert pinyin.initials(name) == initials
    assert pinyin.full(name) == full


common_chars = st.sampled_from(
    list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡"
        "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
        "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
        "刚桂英华"
    )
)
names = st.lists(common_chars, min_size=2, max_size=4).map("".join)


@given(names)
def test_initials_are_one_lowercase_letter_per_character(name):
    keys = pinyin.initials(name)
    assert len(keys) == len(name)
    assert keys.isascii() and keys.isalpha() and keys.islower()


@given(names)
def test_initials_are_the_first_letters_of_the_full_pinyin_syllables(name):
    syllables = pinyin.syllables(name)
    assert "".join(syllables) == pinyin.full(name)
    if not any(name.startswith(s) for s in pinyin.COMPOUND_SURNAMES):
        assert "".join(s[0] for s in syllables) == pinyin.initials(name)
