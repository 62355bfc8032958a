"""统一社会信用代码 (GB 32100-2015): services/uscc.py against codes of every shape."""

from __future__ import annotations

import re

import pytest
from stdnum.cn import uscc as stdnum_uscc

from services.errors import InvalidInput
from services.uscc import (
    ALPHABET,
    AUTHORITIES,
    MAX_INPUT_LENGTH,
    PATTERN,
    check_character,
    is_valid,
    normalise_uscc,
)

# Village collectives (农村集体经济组织, registered by 农业农村: N1 组级, N2 村级, N3 乡镇级).
N_CODES = ["N2340323MF0412873D", "N1340323MF2203016W", "N3340323MF1567240F"]
OTHER_CODES = [
    "91110000600037341L",  # 企业 (python-stdnum's own example)
    "91350100M000100Y43",  # 企业, a letter in the organisation code
    "12340323MB19372504",  # 事业单位
    "93340323MA2N7Q1R4K",  # 农民专业合作社
    "51340323MJ0012839C",  # 社会团体
    "A1100000MB0X123454",  # 军队事业单位
    "Y1340323MC0123456R",  # 其他
    "53100000500021676K",  # 基金会
]


def refusal(raw: str) -> str:
    with pytest.raises(InvalidInput) as raised:
        normalise_uscc(raw)
    assert raised.value.code == "invalid_uscc"
    [problem] = raised.value.errors["uscc"]
    return problem


@pytest.mark.parametrize("code", N_CODES + OTHER_CODES)
def test_valid_codes_pass_unchanged(code):
    assert normalise_uscc(code) == code
    assert is_valid(code)


@pytest.mark.parametrize("code", N_CODES)
def test_village_collectives_pass_though_python_stdnum_refuses_them(code):
    """The reason for our own check: python-stdnum wants digits in positions 1-8."""
    assert not stdnum_uscc.is_valid(code)
    assert normalise_uscc(code) == code


@pytest.mark.parametrize("code", N_CODES + OTHER_CODES)
def test_check_character_agrees_with_python_stdnums_arithmetic(code):
    # stdnum's calc_check_digit computes over any characters of the alphabet; only its
    # validate() insists on digits up front.
    assert check_character(code[:17]) == stdnum_uscc.calc_check_digit(code[:17]) == code[17]


def test_check_character_by_hand():
    # 91110000600037341: values 9,1,1,1,0,0,0,0,6,0,0,0,3,7,3,4,1 times the weights sum to
    # 9+3+9+27+0+0+0+0+120+0+0+0+24+168+30+120+28 = 538; 538 mod 31 = 11; 31 - 11 = 20 = "L".
    assert check_character("91110000600037341") == ALPHABET[20] == "L"


def test_a_check_value_of_31_is_written_0():
    body = next(
        f"9134032300000{n:04d}"
        for n in range(10000)
        if check_character(f"9134032300000{n:04d}") == "0"
    )
    assert normalise_uscc(body + "0") == body + "0"


def test_lower_case_is_upper_cased():
    assert normalise_uscc("n2340323mf0412873d") == "N2340323MF0412873D"
    assert normalise_uscc("91350100m000100y43") == "91350100M000100Y43"


def test_blanks_are_stripped_wherever_they_are():
    assert normalise_uscc(" 9111 0000 6000 3734 1L ") == "91110000600037341L"
    assert normalise_uscc("N2340323\tMF0412873D\n") == "N2340323MF0412873D"
    assert normalise_uscc("\u3000N2 340323 MF0412873 D\u3000") == "N2340323MF0412873D"  # 全角空格


def test_hyphens_are_not_blanks():
    assert refusal("N2-340323-MF0412873D")


def test_blanks_beyond_a_copied_code_are_refused():
    """One blank between characters and two around the code: what copying a licence gives,
    and what the spec publishes (its pattern bounds the length too)."""
    assert normalise_uscc("  " + " ".join(N_CODES[0]) + "\u3000 ") == N_CODES[0]
    assert len("  " + " ".join(N_CODES[0]) + "  ") == MAX_INPUT_LENGTH
    for raw in ("   " + N_CODES[0], N_CODES[0] + "   ", "N2  340323MF0412873D"):
        assert "18位" in refusal(raw), raw


def test_a_wrong_check_character_is_refused():
    for code in N_CODES + OTHER_CODES:
        wrong = next(c for c in ALPHABET if c != code[-1])
        assert "校验" in refusal(code[:-1] + wrong)


@pytest.mark.parametrize("letter", "IOZSV")
def test_forbidden_letters_are_refused(letter):
    # In the organisation code, and as the check character; in either case.
    assert refusal(f"91110000{letter}00037341L")
    assert refusal(f"91110000{letter.lower()}00037341L")
    assert refusal(f"9111000060003734{letter}L")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "91110000600037341",  # 17
        "91110000600037341LL",  # 19
        "９1110000600037341L",  # a full-width digit
        "91110000600037341Ｌ",  # a full-width letter
        "91110000600037341ı",  # dotless i: upper-cases to I
        "91110000600037341\x00",
    ],
)
def test_length_and_alphabet(raw):
    assert "18位" in refusal(raw)


def test_unknown_registration_authority_is_refused():
    for first in "BCDEFGHJKLMPQRTUWX0":
        body = f"{first}1340323MF0412873"
        assert "登记管理部门" in refusal(body + check_character(body)), first


def test_organisation_type_must_be_one_its_authority_registers():
    for body in (
        "94340323MA2N7Q1R4",
        "N4340323MF0412873",
        "Y2340323MC0123456",
        "1A340323MB1937250",
    ):
        assert "机构类别" in refusal(body + check_character(body)), body


def test_every_listed_authority_and_type_passes():
    for authority, types in AUTHORITIES.items():
        for kind in types:
            body = f"{authority}{kind}340323MA0000001"
            assert is_valid(body + check_character(body)), body


def test_division_code_is_six_digits():
    body = "N2340A23MF0412873"
    assert "行政区划" in refusal(body + check_character(body))


def test_the_spec_pattern_admits_what_normalise_takes_and_no_other_characters():
    pattern = re.compile(PATTERN.removesuffix("$") + r"\Z")
    for code in N_CODES + OTHER_CODES:
        assert pattern.match(code) and pattern.match(code.lower())
        assert pattern.match(" " + " ".join(code) + "\u3000")
    for bad in (
        "91110000I00037341L",
        "91110000600037341",
        "91110000600037341L-",
        "N2340323MF0412873Ｄ",
    ):
        assert not pattern.match(bad), bad
