"""Finding, comparing and masking customer data in message text (checks/personal_data.py).

The rules' timelines (test_cs106.py, test_cs107.py) pin what counts; these pin how a text is
masked and how entries compare, which both rules rely on.
"""

from __future__ import annotations

import pytest

from checks.personal_data import Kind, appears_in, canonical, find_personal_data, is_value_of, mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话：１３８ １２３４ ５６７８！谢谢", "电话：138****5678！谢谢"),
        ("+86 138-1234-5678", "+86 138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("号码 13812345678 和 13987654321", "号码 138****5678 和 139****4321"),
        ("订单 202611021381234567890 已发", "订单 202611021381234567890 已发"),
        ("Zhang@Example.com", "z***@example.com"),
        ("110101199003071234", "110101********1234"),
        ("没有号码", "没有号码"),
        ("", ""),
    ],
    ids=[
        "full-width-kept-elsewhere",
        "country-code-kept",
        "country-code-joined",
        "two-numbers",
        "order-number-untouched",
        "email",
        "id-number",
        "nothing",
        "empty",
    ],
)
def test_mask_replaces_each_value_and_keeps_the_rest_as_written(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_values_are_found_in_text_order_with_their_spans_in_the_original() -> None:
    text = "邮箱 a@b.cn，电话 １３８１２３４５６７８"
    found = find_personal_data(text)
    assert [v.kind for v in found] == [Kind.EMAIL, Kind.PHONE]
    assert text[found[1].start : found[1].end] == "１３８１２３４５６７８"


def test_a_found_value_never_shows_itself_in_its_repr() -> None:
    (value,) = find_personal_data("13812345678")
    assert "13812345678" not in repr(value)
    assert value.masked == "138****5678"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("13812345678", "13812345678"),
        (" +86 (138) 1234-5678 ", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("１３８－１２３４－５６７８", "13812345678"),
        ("11010119900307123X", "11010119900307123x"),
        ("Service@Shop.Example", "service@shop.example"),
        ("400-820-8820", "4008208820"),
        ("tb13812345678", "tb13812345678"),
    ],
)
def test_canonical_compares_numbers_digit_for_digit_and_addresses_case_insensitively(
    entry: str, expected: str
) -> None:
    assert canonical(entry) == expected


def test_an_entry_is_a_value_only_when_it_is_all_of_it() -> None:
    (value,) = find_personal_data("13812345678")
    assert is_value_of("138 1234 5678", value)
    assert not is_value_of("tb13812345678", value)
    assert not is_value_of("1381234567", value)


def test_appears_in_reads_digits_across_spaces_and_dashes() -> None:
    (phone,) = find_personal_data("13812345678")
    (email,) = find_personal_data("wang@qq.com")
    assert appears_in(phone, "收货电话:138-1234 5678,谢谢")
    assert not appears_in(phone, "收货电话:138-1234 5679")
    assert not appears_in(phone, None)
    assert appears_in(email, "发票 WANG@QQ.COM")
