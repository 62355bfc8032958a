import logging

import pytest

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


@pytest.mark.parametrize(
    "raw",
    [
        "34032319580312024",  # 17 characters
        "340323195803120245",  # bad check digit
        "340323195802300240",  # 30 February
        "000000195803120240",  # no such address code
        "34032319580312024A",
    ],
)
def test_bad_id_numbers(raw):
    with pytest.raises(InvalidInput) as info:
        pii.normalise_id_number(raw)
    assert info.value.code == "invalid_id_number"


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
