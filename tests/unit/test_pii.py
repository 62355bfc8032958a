import logging

import pytest
from stdnum.cn import ric

from api.logging_setup import PersonalDataFilter, scrub
from services import pii
from services.errors import InvalidInput
from tests.factories import valid_id_number


def test_masks():
    assert pii.mask_id_number("340323195803120244") == "3403**********0244"
    assert pii.mask_phone("13805520001") == "138****0001"
    assert pii.mask_phone(None) is None
    assert pii.mask_name("李桂兰") == "李**"
    assert pii.mask_name("王") == "王*"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13805520001", "13805520001"),
        ("+86 138-0552-0001", "13805520001"),
        ("008613805520001", "13805520001"),
        ("", None),
        (None, None),
    ],
)
def test_phone_normalised(raw, expected):
    assert pii.normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12805520001", "1380552000", "138055200011", "abc"])
def test_bad_phone(raw):
    with pytest.raises(InvalidInput) as info:
        pii.normalise_phone(raw)
    assert info.value.code == "invalid_phone"


def test_id_number_of_someone_born_before_the_county_code_existed_is_valid():
    # 固镇县 got code 340323 in 1983; people born earlier and registered later carry it.
    number = valid_id_number("340323")
    assert number[6:10] < "1983"
    assert pii.normalise_id_number(number.lower()) == number.upper()


def with_check_digit(first17: str) -> str:
    """A number whose check digit is right, so a test reaches the rule it names."""
    return first17 + ric.calc_check_digit(first17 + "0")  # it ignores the last character


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("34032319580312024", "须为18位身份证号码"),  # 17 characters
        ("34032319580312024A", "须为18位身份证号码"),
        ("340323195803120245", "校验位不符"),
        (with_check_digit("34032319580230024"), "出生日期不存在"),  # 30 February
        (with_check_digit("34032319581301024"), "出生日期不存在"),  # month 13
        (with_check_digit("00000019580312024"), "地区码不存在"),  # no such address code
        (with_check_digit("34032919580312024"), "地区码不存在"),  # 3403xx that is no county
    ],
)
def test_bad_id_numbers(raw, problem):
    with pytest.raises(InvalidInput) as info:
        pii.normalise_id_number(raw)
    assert info.value.code == "invalid_id_number"
    assert info.value.errors == {"id_number": [problem]}


def test_encrypt_round_trip_and_blind_index(ctx):
    sealed = pii.encrypt("340323195803120244")
    assert "340323195803120244" not in sealed
    assert sealed != pii.encrypt("340323195803120244")  # fresh nonce every time
    assert pii.decrypt(sealed) == "340323195803120244"
    assert pii.blind_index("a") == pii.blind_index("a") != pii.blind_index("b")


def test_log_filter_scrubs_id_and_phone_numbers():
    assert (
        scrub("id 340323195803120244 phone 13805520001")
        == "id 3403**********0244 phone 138****0001"
    )
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "user %s", ("340323195803120244",), None
    )
    PersonalDataFilter().filter(record)
    assert record.getMessage() == "user 3403**********0244"
