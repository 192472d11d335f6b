"""The real-name rules: the identity number's check character (GB 11643, ISO 7064 MOD 11-2),
its date of birth and region, the name, the mobile number, and the masks."""

from __future__ import annotations

from datetime import date

import pytest

from tokenmall.domain.mall import kyc
from tokenmall.domain.mall.kyc import KycInvalid

TODAY = date(2026, 12, 5)
VALID = "11010519491231002X"  # GB 11643's own example: its check character is X


def test_the_check_character_follows_iso_7064_mod_11_2() -> None:
    assert kyc.check_digit("11010519491231002") == "X"
    assert kyc.check_digit("33010619920315432") == "7"
    # every check character is reachable: the 11 remainders map onto 1 0 X 9 … 2
    seen = {kyc.check_digit(f"1101051990010100{d}") for d in "0123456789"}
    seen |= {kyc.check_digit(f"1101051990010101{d}") for d in "0123456789"}
    assert seen == set(kyc.CHECK)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (VALID, VALID),
        (VALID.lower(), VALID),  # a lower-case x is the same character
        ("110105 19491231 002X", VALID),  # groups typed with spaces
        ("330106199203154327", "330106199203154327"),
    ],
)
def test_a_valid_number_is_kept_in_its_canonical_form(given: str, kept: str) -> None:
    assert kyc.id_number(given, TODAY) == kept


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "must not be empty"),
        ("11010519491231002", "must be 18 characters"),
        ("11010519491231002X1", "must be 18 characters"),
        ("1101051949123100AX", "must be 18 characters"),
        ("11010519491231002Y", "must be 18 characters"),
        ("１１0105194912310021", "must be 18 characters"),  # full-width digits
        ("110105194912310021", "check character does not match"),
        ("330106199203154328", "check character does not match"),
        ("000105194912310028", "region's code"),
        ("110105202712310024", "plausible date of birth"),  # born after today
        ("110105199002300020", "plausible date of birth"),  # 30 February
        ("110105189912310022", "plausible date of birth"),  # before 1900
        ("11010519491231002\x00", "control characters"),
    ],
)
def test_a_bad_number_is_refused_naming_the_field(given: str, words: str) -> None:
    with pytest.raises(KycInvalid) as refused:
        kyc.id_number(given, TODAY)
    assert refused.value.field == "id_number"
    assert words in str(refused.value)


def test_a_birth_date_of_today_is_plausible_and_tomorrow_is_not() -> None:
    first17 = "11010520261205001"
    assert kyc.id_number(first17 + kyc.check_digit(first17), TODAY).startswith("110105")
    late = "11010520261206001"
    with pytest.raises(KycInvalid):
        kyc.id_number(late + kyc.check_digit(late), TODAY)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("张三", "张三"),
        ("  欧阳  娜娜 ", "欧阳 娜娜"),
        ("买买提·艾力", "买买提·艾力"),
        ("Anna Smith", "Anna Smith"),
        ("𠀋一", "𠀋一"),  # an ideograph beyond the basic plane
    ],
)
def test_a_name_is_kept_with_its_spaces_collapsed(given: str, kept: str) -> None:
    assert kyc.real_name(given) == kept


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("张\x07三", "control characters"),
        ("张\u0085三", "control characters"),
        ("张" * 51, "at most 50"),
        ("张三3", "letters only"),
        ("<b>张三</b>", "letters only"),
    ],
)
def test_a_bad_name_is_refused_naming_the_field(given: str, words: str) -> None:
    with pytest.raises(KycInvalid) as refused:
        kyc.real_name(given)
    assert refused.value.field == "real_name"
    assert words in str(refused.value)


def test_the_phone_is_optional_and_a_mainland_mobile() -> None:
    assert kyc.phone(None) is None
    assert kyc.phone("  ") is None
    assert kyc.phone("+86 138-0013-8001") == "13800138001"
    for bad in ("12800138001", "1380013800", "138001380012", "phone", "1380013800\x00"):
        with pytest.raises(KycInvalid) as refused:
            kyc.phone(bad)
        assert refused.value.field == "phone"


def test_the_masks_keep_only_the_first_name_character_and_the_ends_of_the_number() -> None:
    assert kyc.mask_name("张三") == "张*"
    assert kyc.mask_name("欧阳娜娜") == "欧***"
    assert kyc.mask_name("Anna Smith") == "A*** *****"
    assert kyc.mask_id(VALID) == "1101**********002X"
    assert len(kyc.mask_id(VALID)) == 18
    assert kyc.mask_phone("13800138001") == "138****8001"
    assert kyc.mask_phone(None) is None


def test_a_rejection_needs_a_reason_of_at_most_200_characters() -> None:
    assert kyc.reason("  照片不清晰 ") == "照片不清晰"
    for bad in ("", "  ", "x" * 201, "bad\x00"):
        with pytest.raises(KycInvalid) as refused:
            kyc.reason(bad)
        assert refused.value.field == "reason"
