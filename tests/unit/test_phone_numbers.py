"""Mainland mobile numbers: what is accepted, how it is normalised and masked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marque.domain.auth import AuthErrorCode, mask_phone, normalise_phone
from marque.domain.errors import ValidationFailed


@pytest.mark.parametrize(
    "raw",
    [
        "13912345678",
        "+86 139 1234 5678",
        "86-13912345678",
        "+8613912345678",
        "8613912345678",
        "0086 139 1234 5678",
        "139-1234-5678",
        "  139 1234 5678  ",
        "+86-139-1234-5678",
    ],
)
def test_accepted_formats_normalise_to_eleven_digits(raw: str) -> None:
    assert normalise_phone(raw) == "13912345678"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1391234567",  # ten digits
        "139123456789",  # twelve digits
        "23912345678",  # does not start with 1
        "12912345678",  # 12x is not a mobile prefix
        "1391234567a",
        "１３９１２３４５６７８",  # full-width digits
        "+1 415 555 0100",  # another country
        "+85 139 1234 5678",
        "010-12345678",  # a Beijing landline
        "139  1234 5678",  # two separators in a row
        "-13912345678",
        "13912345678-",
        "139.1234.5678",
        "(139) 1234 5678",
        "+ 86 139 1234 5678",
        "86 86 139 1234 5678",
        "1" * 40,
    ],
)
def test_other_inputs_are_refused_with_phone_invalid(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_phone(raw)
    assert caught.value.code == AuthErrorCode.PHONE_INVALID
    assert caught.value.status == 422
    [violation] = caught.value.violations
    assert violation.code == AuthErrorCode.PHONE_INVALID
    assert violation.pointer == "/phone"


def test_refusal_message_names_the_rejected_input() -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_phone("12345")
    [violation] = caught.value.violations
    assert violation.params == {"phone": "12345"}
    assert "{phone}" in violation.message


def test_mask_keeps_prefix_and_last_four_digits() -> None:
    assert mask_phone("13912345678") == "139****5678"


mobile_numbers = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
prefixes = st.sampled_from(["", "+86", "+86 ", "+86-", "86", "86 ", "86-", "0086", "0086 "])
separators = st.sampled_from(["", " ", "-"])


@given(number=mobile_numbers, prefix=prefixes, sep=separators)
def test_any_mobile_number_in_any_accepted_layout_normalises_back(
    number: str, prefix: str, sep: str
) -> None:
    laid_out = f"{prefix}{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
    assert normalise_phone(laid_out) == number


@given(number=mobile_numbers)
def test_masked_number_shows_exactly_seven_digits(number: str) -> None:
    masked = mask_phone(number)
    assert len(masked) == 11
    assert masked.count("*") == 4
    assert masked.startswith(number[:3])
    assert masked.endswith(number[-4:])
