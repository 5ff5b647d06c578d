import pytest

from hotline_core import i18n, phones, sms
from intake import sms_commands


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0459-6123456", "+864596123456"),
        ("+1 415 867 5309", "+14158675309"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, expected):
    number = phones.normalise(raw, "CN")
    assert number == phones.PhoneNumber(expected, True)


@pytest.mark.parametrize("raw", ["12345", "not a number", "+86 1", "anonymous"])
def test_invalid_numbers_are_kept_raw_and_flagged(raw):
    number = phones.normalise(raw, "CN")
    assert number is not None and number.value == raw and not number.valid


def test_the_default_region_decides_national_numbers():
    assert phones.normalise("4158675309", "US").value == "+14158675309"


def test_masking_keeps_the_first_three_and_last_four_digits():
    assert phones.mask("+8613800138000") == "138****8000"
    assert phones.display("+8613800138000", may_see_full=False) == "138****8000"
    assert phones.display("+8613800138000", may_see_full=True) == "+8613800138000"


def test_every_text_exists_in_chinese_and_english():
    assert i18n.missing_translations() == []


def test_ticket_numbers_are_spoken_digit_by_digit():
    assert i18n.spoken_number("2026-000123") == "2 0 2 6, 0 0 0 1 2 3"


def test_segments_count_ucs2_for_chinese_and_gsm_for_latin():
    assert sms.encoding("hello") == "GSM-7" and sms.segments("a" * 160) == 1 and sms.segments("a" * 161) == 2
    assert sms.encoding("路灯") == "UCS-2" and sms.segments("路" * 70) == 1 and sms.segments("路" * 71) == 2
    assert sms.segments("路" * 300) == 5


@pytest.mark.parametrize(
    ("body", "kind", "argument"),
    [
        ("STOP", "stop", None),
        ("退订", "stop", None),
        ("stop.", "stop", None),
        ("START", "start", None),
        ("订阅", "start", None),
        ("查询 2026-000123", "status", "2026-000123"),
        ("查询：2026-123", "status", "2026-000123"),
        ("status 2026-000123", "status", "2026-000123"),
        ("查询 ２０２６－０００１２３", "status", "2026-000123"),
        ("STATUS 2026 000123", "status", "2026-000123"),
    ],
)
def test_keywords_are_recognised_in_both_languages(body, kind, argument):
    command = sms_commands.parse(body)
    assert command is not None and command.kind == kind and command.argument == argument


@pytest.mark.parametrize("body", ["路灯坏了", "please stop the noise at night", "查询一下社保怎么办"])
def test_complaints_are_not_mistaken_for_keywords(body):
    assert sms_commands.parse(body) is None
