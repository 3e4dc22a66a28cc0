"""GB 11643 national ID rules, with the standard's own examples and property tests."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from countycare.core import nationalid

# Examples printed in GB 11643-1999 itself (a Beijing woman born 1949-12-31; a Guangdong man born 1880-01-01).
STANDARD_EXAMPLES = [
    ("11010519491231002X", dt.date(1949, 12, 31), "female"),
    ("440524188001010014", dt.date(1880, 1, 1), "male"),
]


@pytest.mark.parametrize("value,birth,sex", STANDARD_EXAMPLES)
def test_it_accepts_the_standards_examples(value, birth, sex):
    parsed = nationalid.parse(value)
    assert (parsed.birth_date, parsed.sex, parsed.division_code) == (birth, sex, value[:6])


def test_it_accepts_a_lowercase_x_and_spaces():
    assert nationalid.parse(" 110105 19491231 002x ").value == "11010519491231002X"


@pytest.mark.parametrize(
    "value,part",
    [
        ("110105194912310021", "check_digit"),  # X expected
        ("11010519491231002", "length"),
        ("1101051949123100212", "length"),
        ("11010519491231A02X", "format"),
        ("110105194902300025", "birth_date"),  # 30 February
        ("110105203001010020", "birth_date"),  # born in the future
        ("990105194912310024", "division"),  # no province 99
        ("110000194912310020", "division"),  # a province, not a county
    ],
)
def test_it_names_the_wrong_part(value, part):
    with pytest.raises(nationalid.NationalIdError) as excinfo:
        nationalid.parse(value)
    assert excinfo.value.part == part


def test_the_check_digit_message_says_what_was_expected():
    with pytest.raises(nationalid.NationalIdError, match="校验位应为X"):
        nationalid.parse("110105194912310021")


def test_entered_birth_date_and_sex_must_agree_with_the_id():
    parsed = nationalid.parse("11010519491231002X")
    assert nationalid.check_against(parsed, birth_date=dt.date(1949, 12, 31), sex="female") == []
    problems = nationalid.check_against(parsed, birth_date=dt.date(1950, 1, 1), sex="male")
    assert len(problems) == 2 and "1949-12-31" in problems[0] and "女" in problems[1]


births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))
sexes = st.sampled_from(["male", "female"])
sequences = st.integers(min_value=0, max_value=99)


@given(births, sequences, sexes)
def test_every_built_id_parses_back_to_its_parts(birth, seq, sex):
    value = nationalid.build("330122", birth, seq, sex)
    parsed = nationalid.parse(value)
    assert (parsed.birth_date, parsed.sex, parsed.division_code) == (birth, sex, "330122")


@given(births, sequences, sexes, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_typo_is_caught(birth, seq, sex, position, delta):
    value = nationalid.build("330122", birth, seq, sex)
    typo = value[:position] + str((int(value[position]) + delta) % 10) + value[position + 1:]
    with pytest.raises(nationalid.NationalIdError):
        nationalid.parse(typo)


@given(births, sequences, sexes, st.integers(min_value=0, max_value=15))
def test_swapping_two_different_adjacent_digits_is_caught(birth, seq, sex, position):
    value = nationalid.build("330122", birth, seq, sex)
    a, b = value[position], value[position + 1]
    if a == b:
        return
    swapped = value[:position] + b + a + value[position + 2:]
    with pytest.raises(nationalid.NationalIdError):
        nationalid.parse(swapped)


@given(st.text(max_size=25))
def test_arbitrary_text_is_either_valid_or_refused_with_a_named_part(text):
    try:
        parsed = nationalid.parse(text)
    except nationalid.NationalIdError as exc:
        assert exc.part in {"length", "format", "division", "birth_date", "check_digit"}
    else:
        assert nationalid.check_character(parsed.value[:17]) == parsed.value[17]
