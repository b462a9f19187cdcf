"""Each kind of personal data is found in the shapes people write it, and its look-alikes are not."""

from __future__ import annotations

from datetime import datetime

import pytest

from phonegate.core.chat.detectors import find_personal_data

SENT = datetime(2024, 3, 12, 14, 5)


def found(text: str, day_first: bool = True) -> list[tuple[str, str]]:
    return [(hit.kind, text[hit.start:hit.end]) for hit in find_personal_data(text, SENT, day_first)]


@pytest.mark.parametrize(("text", "value"), [
    ("His NHS number is 943 476 5919 ok", "943 476 5919"),
    ("number on the letter: 943-476-5919", "943-476-5919"),
    ("NHS no 9434765919", "9434765919"),
    ("9434765919 (nhs)", "9434765919"),
])
def test_nhs_number(text: str, value: str) -> None:
    assert found(text) == [("nhs_number", value)]


@pytest.mark.parametrize("text", [
    "the number is 943 476 5918",  # fails the check digit
    "order 9434765919",  # passes the check, but bare and without "NHS"
    "Booking reference: 943 476 5919",
    "943 476 5919 2 copies",  # part of a longer run of digits
])
def test_nhs_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(("text", "value"), [
    ("NI number AB 12 34 56 C", "AB 12 34 56 C"),
    ("my national insurance is ce123456d", "ce123456d"),
])
def test_national_insurance_number(text: str, value: str) -> None:
    assert found(text) == [("national_insurance_number", value)]


@pytest.mark.parametrize("text", [
    "booking ref AB123456C",  # labelled as a booking
    "code AB123456",  # no suffix letter: a reference's shape
    "QQ 12 34 56 C",  # Q is never a first letter (HMRC's example prefix)
    "GB 12 34 56 A",  # never issued
    "AO 12 34 56 A",  # O is never a second letter
])
def test_national_insurance_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(("text", "value"), [
    ("The address is 10 Downing Street, SW1A 2AA", "SW1A 2AA"),
    ("postcode m1 1ae", "m1 1ae"),
    ("moved to EH12 9DN last week", "EH12 9DN"),
    ("B338TH", "B338TH"),
])
def test_postcode(text: str, value: str) -> None:
    assert found(text) == [("postcode", value)]


@pytest.mark.parametrize("text", [
    "We are in room B12", "Room 2.14 on the left", "seat QX1 2AB",  # QX is no postcode area
    "room EH12 9DN",  # labelled as a room
])
def test_postcode_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(("text", "value"), [
    ("Call me on 07911 123456", "07911 123456"),
    ("ring +44 20 7946 0958 after 5", "+44 20 7946 0958"),
    ("landline (0113) 496 0000", "(0113) 496 0000"),
    ("his number is +44 113 496 0000", "+44 113 496 0000"),  # not an NHS number, though its tail passes the check
])
def test_phone_number(text: str, value: str) -> None:
    assert found(text) == [("phone_number", value)]


@pytest.mark.parametrize("text", [
    "See you at 14:05", "from 09:00 to 17:30", "call +33 1 23 45 67 89",  # a French number: UK numbers only
    "ticket 01234 567890",  # labelled as a ticket
])
def test_phone_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(("text", "value"), [
    ("Send it to sam.jones@example.org please", "sam.jones@example.org"),
    ("email: priya_patel+school@mail.example.co.uk.", "priya_patel+school@mail.example.co.uk"),
])
def test_email(text: str, value: str) -> None:
    assert found(text) == [("email", value)]


@pytest.mark.parametrize("text", ["meet @ 3pm", "@Sam can you check", "user@localhost"])
def test_email_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(("text", "value", "day_first"), [
    ("DOB 12/03/1990", "12/03/1990", True),
    ("her date of birth is 3rd May 2016", "3rd May 2016", True),
    ("he was born on 1990-03-12", "1990-03-12", True),
    ("birthday 03/25/2001 (22 years old)", "03/25/2001", False),
    ("she is 7, born November 2, 2016", "November 2, 2016", True),
    ("aged 9: 14.02.2015", "14.02.2015", True),
    ("born 01/03/2024, a week ago", "01/03/2024", True),  # a newborn: "born" needs no year's distance
])
def test_date_of_birth(text: str, value: str, day_first: bool) -> None:
    assert found(text, day_first) == [("date_of_birth", value)]


@pytest.mark.parametrize("text", [
    "see you on 12/03/2025",  # a meeting date
    "meeting on 3rd May 2023",  # past, but nothing says birth
    "her birthday party is on 20/04/2024",  # to come
    "birthday drinks were on 02/03/2024",  # this year: an event, not a birth date
    "born 12/03/2030",  # after the message: not possible
    "born 31/02/1990",  # no such date
    "version 12.03.2020.1 was born today",  # a version number
])
def test_date_of_birth_look_alikes(text: str) -> None:
    assert found(text) == []


def test_only_the_date_a_birth_word_speaks_of_is_a_birth_date() -> None:
    assert found("born 12/03/1990, last seen on 02/03/2024") == [("date_of_birth", "12/03/1990")]


def test_two_birth_dates_in_one_message() -> None:
    assert found("DOB 12/03/1990 and her brother's DOB 01/02/1993") == [
        ("date_of_birth", "12/03/1990"), ("date_of_birth", "01/02/1993")]


@pytest.mark.parametrize(("text", "value"), [
    ("sort code 12-34-56 account 12345678", "12-34-56 account 12345678"),
    ("Pay it into 40-47-84 71234567", "40-47-84 71234567"),
    ("acc no 71234567, sort code 20-00-00", "71234567, sort code 20-00-00"),
    ("sort code: 404784 acc 71234567", "404784 acc 71234567"),
    ("Sort code 12-34-56\nAccount 1234 5678", "12-34-56\nAccount 1234 5678"),
])
def test_bank_account(text: str, value: str) -> None:
    assert found(text) == [("bank_account", value)]


@pytest.mark.parametrize("text", [
    "sort code 12-34-56",  # no account number near
    "meeting 12-03-24, order 12345678",  # a date, and no banking word
    "12-34-56 then a long way further on in the message the number 12345678",
    "account 123456789012",  # no sort code, and not eight digits
])
def test_bank_account_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize("text", [
    "It was £12.50", "£1,250.00 for the term", "update to version 1.2.3", "WhatsApp v2.24.22.5",
    "ref XK4829", "order #UK-4829-1120", "Order no. 12345678", "pick up at 2:30pm", "room 101",
])
def test_everyday_numbers_are_not_personal_data(text: str) -> None:
    assert found(text) == []


def test_several_kinds_in_one_message_in_order() -> None:
    text = "Sam (NHS 943 476 5919) lives at EH12 9DN, call 07911 123456 or sam@example.org"
    assert [kind for kind, _ in found(text)] == ["nhs_number", "postcode", "phone_number", "email"]
