"""Resident identity card numbers (公民身份号码), GB 11643-1999.

Layout of the 18 characters:
  1-6   address code: the GB/T 2260 division code of the county where the number was issued
  7-14  birth date, YYYYMMDD
  15-17 sequence code; its last digit is odd for men and even for women
  18    check character, ISO 7064 MOD 11-2 over the first 17 digits ('X' stands for 10)

Every failure names the part that is wrong, so a registration clerk knows what to re-read from the card.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index: weighted sum mod 11
EARLIEST_BIRTH = dt.date(1880, 1, 1)

# First two digits of GB/T 2260 codes: provinces, autonomous regions and municipalities.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82",
    }
)


class NationalIdError(ValueError):
    """A national ID that fails one of the GB 11643 rules; `part` names the failing part."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part
        self.message = message


@dataclass(frozen=True)
class NationalId:
    value: str
    division_code: str
    birth_date: dt.date
    sex: str  # "male" | "female"

    def __str__(self) -> str:
        return self.value


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalize(raw: str) -> str:
    return re.sub(r"\s+", "", raw or "").upper()


def parse(raw: str, *, today: dt.date | None = None) -> NationalId:
    """Parse and validate a national ID; raise NationalIdError naming the wrong part."""
    value = normalize(raw)
    if len(value) != 18:
        raise NationalIdError(
            "length", f"身份证号应为18位，当前为{len(value)}位 (national ID must have 18 characters, got {len(value)})"
        )
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise NationalIdError(
            "format",
            "身份证号前17位须为数字，最后一位为数字或X (the first 17 characters must be digits, the last a digit or X)",
        )
    division = value[:6]
    if division[:2] not in PROVINCE_CODES or division[2:] == "0000":
        raise NationalIdError(
            "division",
            f"地址码{division}不是有效的县级行政区划代码 (address code {division} is not a county division code)",
        )
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise NationalIdError(
            "birth_date", f"出生日期{value[6:14]}不是有效日期 (birth date {value[6:14]} is not a valid date)"
        ) from None
    today = today or dt.date.today()
    if birth < EARLIEST_BIRTH or birth > today:
        raise NationalIdError(
            "birth_date", f"出生日期{birth.isoformat()}不合理 (birth date {birth.isoformat()} is out of range)"
        )
    expected = check_character(value[:17])
    if value[17] != expected:
        raise NationalIdError(
            "check_digit",
            f"校验位应为{expected}，实为{value[17]}，请核对号码 (check character should be {expected}, "
            f"got {value[17]}: a digit was probably mistyped)",
        )
    sex = "male" if int(value[16]) % 2 == 1 else "female"
    return NationalId(value=value, division_code=division, birth_date=birth, sex=sex)


def build(division_code: str, birth_date: dt.date, sequence: int, sex: str) -> str:
    """Compose a valid ID (for the generated county and tests): sequence 0-99 sets digits 15-16."""
    last = (sequence * 10 + (1 if sex == "male" else 0)) % 1000
    if (last % 2 == 1) != (sex == "male"):
        last = (last + 1) % 1000
    first17 = f"{division_code}{birth_date:%Y%m%d}{last:03d}"
    return first17 + check_character(first17)


def check_against(national_id: NationalId, *, birth_date: dt.date | None, sex: str | None) -> list[str]:
    """Messages for entered birth date / sex that disagree with the ID."""
    problems = []
    if birth_date and birth_date != national_id.birth_date:
        problems.append(
            f"出生日期与身份证号不符：证件为{national_id.birth_date.isoformat()} "
            f"(birth date does not match the ID, which says {national_id.birth_date.isoformat()})"
        )
    if sex in {"male", "female"} and sex != national_id.sex:
        zh = "男" if national_id.sex == "male" else "女"
        problems.append(f"性别与身份证号不符：证件为{zh} (sex does not match the ID, which says {national_id.sex})")
    return problems
