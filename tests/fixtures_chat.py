"""WhatsApp chat exports written here, in each shape WhatsApp writes, never taken from real chats.

`write_export` turns (time, sender, text) messages into an export's text in one of the STYLES; `corpus` makes a
labelled chat with planted personal data of every kind and look-alikes of every kind (deterministic for a
seed), for the accuracy test and the benchmark; `zip_bomb` builds a hostile archive without spending the
gigabyte it claims to hold.
"""

from __future__ import annotations

import random
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import phonenumbers

STYLES = ("android24", "android12", "android12us", "ios", "ios12us")
ENCRYPTION_NOTICE = ("Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, "
                     "can read or listen to them. Tap to learn more.")
NNBSP = "\u202f"  # newer Android and iOS put a narrow no-break space before am/pm
LRM = "\u200e"


@dataclass(frozen=True)
class Line:
    """One message: sender None is a system line; media=True a placeholder such as "<Media omitted>"."""

    when: datetime
    sender: str | None
    text: str
    media: bool = False


def header(when: datetime, style: str) -> str:
    month_first = style.endswith("us")
    first, second = (when.month, when.day) if month_first else (when.day, when.month)
    if style.startswith("android"):
        date = f"{first}/{second}/{when:%y}" if style != "android24" else f"{first:02d}/{second:02d}/{when:%Y}"
        time = f"{when:%H:%M}" if style == "android24" else f"{(when.hour % 12) or 12}:{when:%M}{NNBSP}{when:%p}".lower()
        return f"{date}, {time} -"
    date = f"{first:02d}/{second:02d}/{when:%Y}" if style == "ios" else f"{first}/{second}/{when:%y}"
    time = f"{when:%H:%M:%S}" if style == "ios" else f"{(when.hour % 12) or 12}:{when:%M:%S}{NNBSP}{when:%p}"
    return f"[{date}, {time}]"


def write_export(lines: list[Line], style: str, chat_name: str = "Family support") -> str:
    out = []
    for line in lines:
        lead = header(line.when, style)
        ios = style.startswith("ios")
        if line.sender is None:
            out.append(f"{lead} {chat_name}: {LRM}{line.text}" if ios else f"{lead} {line.text}")
        elif line.media:
            out.append(f"{LRM}{lead} {line.sender}: {LRM}image omitted" if ios else f"{lead} {line.sender}: <Media omitted>")
        else:
            out.append(f"{lead} {line.sender}: {line.text}")
    return "\n".join(out) + "\n"


def zip_export(path: Path, text: str, style: str = "android24", media: int = 2) -> Path:
    """A .zip as WhatsApp writes it: the chat text beside media files (which hold random bytes here)."""
    name = "_chat.txt" if style.startswith("ios") else "WhatsApp Chat with Family support.txt"
    rng = random.Random(7)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text)
        for index in range(media):
            archive.writestr(f"IMG-20240312-WA{index:04d}.jpg", bytes(rng.getrandbits(8) for _ in range(2048)),
                             compress_type=zipfile.ZIP_STORED)
    return path


def zip_bomb(path: Path, size_mib: int, declared_size: int | None = None, name: str = "_chat.txt") -> Path:
    """A .zip whose one text entry inflates to `size_mib` MiB of zeros (about 1,000:1), written by hand so building
    it costs little: deflate blocks ended by a full flush repeat byte for byte, so one is made and repeated.
    `declared_size` makes the headers state another size than the real one (a bomb that lies)."""
    chunk = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * size_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size_mib):
        crc = zlib.crc32(chunk, crc)
    size = (size_mib << 20) if declared_size is None else declared_size
    encoded = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0) + encoded
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded),
                          0, 0, 0, 0, 0, 0) + encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)
    return path


# --- a labelled corpus ---------------------------------------------------------------------------------------

POSTCODE_AREAS = ("B", "BS", "CF", "E", "EH", "G", "L", "LS", "M", "N", "NE", "SW", "W", "YO", "OX", "CB", "BN", "PL")
NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
NEVER_ISSUED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
SENDERS = ("Sam Jones", "Alex Smith", "Priya Patel", "Zoë Ålander", "\u202a+44 7911 123456\u202c")
NEUTRAL = (
    "ok thanks", "Running about 10 minutes late, sorry", "Can we move to Thursday?", "👍", "See you then",
    "Did you get the form?", "I'll call you back after lunch", "Thanks for today, it really helped",
    "Not sure, I'll check with my manager", "Yes that's fine", "Good morning!", "Let me know when you are free",
)


@dataclass
class Corpus:
    """A chat and, for each planted value, its kind and the line it is on in the written file."""

    lines: list[Line] = field(default_factory=list)
    planted: list[tuple[int, str]] = field(default_factory=list)  # (line in file, kind)
    look_alikes: dict[str, int] = field(default_factory=dict)  # look-alike family -> how many were written
    style: str = "android24"

    def text(self) -> str:
        return write_export(self.lines, self.style)


def nhs_number(rng: random.Random, valid: bool = True) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1))) % 11
        check = 0 if check == 11 else check
        if check == 10:
            continue
        if not valid:
            check = (check + rng.randrange(1, 10)) % 10  # any other digit fails the check
        text = "".join(map(str, digits)) + str(check)
        return f"{text[:3]} {text[3:6]} {text[6:]}"


def national_insurance_number(rng: random.Random) -> str:
    while (prefix := rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)) in NEVER_ISSUED:
        pass
    digits = f"{rng.randrange(10**6):06d}"
    return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"


def postcode(rng: random.Random) -> str:
    area = rng.choice(POSTCODE_AREAS)
    return f"{area}{rng.randrange(1, 20)} {rng.randrange(10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def phone_number(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.6:
            raw = f"07{rng.randrange(400, 999)}{rng.randrange(10**6):06d}"
            shown = f"{raw[:5]} {raw[5:]}" if rng.random() < 0.7 else f"+44 {raw[1:5]} {raw[5:]}"
        else:
            raw = f"020{rng.randrange(3, 9)}{rng.randrange(10**7):07d}"
            shown = f"{raw[:3]} {raw[3:7]} {raw[7:]}"
        if phonenumbers.is_valid_number(phonenumbers.parse(raw, "GB")):
            return shown


def email(rng: random.Random) -> str:
    first, last = rng.choice(("sam", "alex", "priya", "jo", "lee")), rng.choice(("jones", "smith", "patel", "ng"))
    return f"{first}.{last}{rng.randrange(100)}@{rng.choice(('example.org', 'mail.example.co.uk', 'example.com'))}"


def birth_date(rng: random.Random, month_first: bool) -> tuple[str, str]:
    """(how the date is written, words around it)"""
    when = datetime(rng.randrange(1940, 2016), rng.randrange(1, 13), rng.randrange(1, 29))
    first, second = (when.month, when.day) if month_first else (when.day, when.month)
    written = rng.choice((f"{first:02d}/{second:02d}/{when:%Y}", f"{when.day} {when:%B %Y}", f"{when:%Y-%m-%d}",
                          f"{first}.{second}.{when:%y}", f"{when:%B} {when.day}, {when:%Y}", f"{when.day}th {when:%b %Y}"))
    age = 2024 - when.year
    template = rng.choice(("DOB {d}", "her date of birth is {d}", "born {d}", "he was born on {d}, aged {a}",
                           "birthday {d} ({a} years old)", "D.O.B: {d}", "dob:{d}", "{d} (DOB)", "Date of birth - {d}."))
    return written, template.format(d=written, a=age)


def bank_details(rng: random.Random) -> str:
    sort_code = f"{rng.randrange(10, 99)}-{rng.randrange(10, 99)}-{rng.randrange(10, 99)}"
    account = f"{rng.randrange(10**7, 10**8)}"
    return rng.choice((f"sort code {sort_code} account {account}", f"{sort_code} {account}",
                       f"Bank: {sort_code}, acc no {account}", f"s/c {sort_code} a/c {account}",
                       f"account {account} sort code {sort_code.replace('-', '')}", f"{account} / {sort_code}"))


def planted_message(kind: str, rng: random.Random, month_first: bool) -> str:
    if kind == "nhs_number":
        value = nhs_number(rng)
        return rng.choice((f"His NHS number is {value}", f"nhs no {value.replace(' ', '')} for the referral",
                           f"{value} is her number on the letter", f"NHS: {value.replace(' ', '-')}.",
                           f"(NHS number {value})"))
    if kind == "national_insurance_number":
        value = national_insurance_number(rng)
        return rng.choice((f"NI number {value}", f"my national insurance is {value.replace(' ', '')}",
                           f"NINO: {value.lower()}", f"ni no. {value.replace(' ', '')}, thanks"))
    if kind == "postcode":
        return rng.choice((f"The address is 12 High Street, {postcode(rng)}", f"postcode {postcode(rng).lower()}",
                           f"She moved to {postcode(rng)} last week", f"flat 3 ({postcode(rng).replace(' ', '')})",
                           f"44 Mill Lane, Leeds, {postcode(rng)}."))
    if kind == "phone_number":
        number = phone_number(rng)
        return rng.choice((f"Call me on {number}", f"His mum's number is {number}", f"text {number.replace(' ', '')}",
                           f"mobile:{number}!"))
    if kind == "email":
        address = email(rng)
        return rng.choice((f"Send it to {address} please", f"email: {address}", f"<{address.upper()}>",
                           f"contact {address}, or ring"))
    if kind == "date_of_birth":
        return birth_date(rng, month_first)[1]
    if kind == "bank_account":
        return f"Pay it into {bank_details(rng)}"
    raise ValueError(kind)


def look_alike(family: str, rng: random.Random, sent: datetime, month_first: bool) -> str:
    meeting = sent + timedelta(days=rng.randrange(1, 60))
    first, second = (meeting.month, meeting.day) if month_first else (meeting.day, meeting.month)
    if family == "time":
        return rng.choice((f"See you at {rng.randrange(8, 18)}:{rng.randrange(60):02d}", "pick up at 2:30pm",
                           "from 09:00 to 17:30", "at 9am", "about 14.05 I think", "10:00-12:00"))
    if family == "price":
        return rng.choice((f"It was £{rng.randrange(1, 99)}.{rng.randrange(100):02d}", "£1,250.00 for the term",
                           f"bus fare £{rng.randrange(1, 9)}.50 each way", "£2,500", "$12.50 online", "£0.99"))
    if family == "booking_reference":
        return rng.choice((f"booking ref {national_insurance_number(rng).replace(' ', '')}",
                           f"Booking reference: {nhs_number(rng)}", f"ref XK{rng.randrange(1000, 9999)}",
                           f"confirmation code {rng.choice('ABCDEFGH')}{rng.randrange(10**5, 10**6)}",
                           f"booking no. {rng.randrange(10**9, 10**10)}"))
    if family == "room_number":
        return rng.choice((f"We are in room B{rng.randrange(1, 40)}", f"Room {rng.randrange(1, 5)}.{rng.randrange(1, 30):02d}",
                           f"room {rng.randrange(100, 500)} on the left", "Room G12 downstairs", "meeting room 3B"))
    if family == "version_number":
        return rng.choice((f"update to version {rng.randrange(1, 20)}.{rng.randrange(10)}.{rng.randrange(10)}",
                           f"WhatsApp v2.{rng.randrange(20, 25)}.{rng.randrange(1, 30)}.{rng.randrange(1, 9)}",
                           "Android 14.0.1 now", "iOS 17.4.1 broke it", "build 10.0.19045.4170"))
    if family == "meeting_date":
        return rng.choice((f"See you on {first:02d}/{second:02d}/{meeting:%Y}", f"meeting on {meeting.day} {meeting:%B %Y}",
                           f"her birthday party is on {first:02d}/{second:02d}/{meeting:%Y}",
                           f"review on {meeting:%Y-%m-%d} at 10", f"court date {first}/{second}/{meeting:%y}"))
    if family == "failed_nhs_check":
        return rng.choice((f"the number on the form is {nhs_number(rng, valid=False)}",
                           f"NHS {nhs_number(rng, valid=False)}?"))
    if family == "order_number":
        return rng.choice((f"order {rng.randrange(10**9, 10**10)}", f"Order no. {rng.randrange(10**7, 10**8)}",
                           f"order #UK-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                           f"order number 0{rng.randrange(1000, 9999)} {rng.randrange(10**5, 10**6)}",
                           f"tracking JD{rng.randrange(10**11, 10**12)}GB"))
    raise ValueError(family)


KINDS = ("nhs_number", "national_insurance_number", "postcode", "phone_number", "email", "date_of_birth", "bank_account")
LOOK_ALIKES = ("time", "price", "booking_reference", "room_number", "version_number", "meeting_date",
               "failed_nhs_check", "order_number")


def corpus(seed: int, messages: int, style: str = "android24", planted_share: float = 0.25,
           look_alike_share: float = 0.25) -> Corpus:
    """A labelled chat of `messages` messages in `style`: some with one planted value, some with a look-alike,
    the rest neutral, with system lines, media and multi-line messages among them."""
    rng = random.Random(seed)
    month_first = style.endswith("us")
    chat = Corpus(style=style)
    sent = datetime(2024, 1, 2, 8, 0, rng.randrange(60))
    chat.lines.append(Line(sent, None, ENCRYPTION_NOTICE))
    line_number = 1
    for _ in range(messages):
        sent += timedelta(minutes=rng.randrange(1, 600), seconds=rng.randrange(60))
        sender = rng.choice(SENDERS)
        roll = rng.random()
        prefix = rng.choice(("", "", "Hi,\n", "Update:\n"))  # some messages run over several lines
        if roll < planted_share:
            kind = rng.choice(KINDS)
            text = prefix + planted_message(kind, rng, month_first)
            chat.planted.append((line_number + 1 + prefix.count("\n"), kind))
        elif roll < planted_share + look_alike_share:
            family = rng.choice(LOOK_ALIKES)
            text = prefix + look_alike(family, rng, sent, month_first)
            chat.look_alikes[family] = chat.look_alikes.get(family, 0) + 1
        elif roll < planted_share + look_alike_share + 0.03:
            chat.lines.append(Line(sent, None, f"{sender.strip(chr(0x202a) + chr(0x202c))} added Jo Ng"))
            line_number += 1
            continue
        elif roll < planted_share + look_alike_share + 0.06:
            chat.lines.append(Line(sent, sender, "", media=True))
            line_number += 1
            continue
        else:
            text = rng.choice(NEUTRAL)
        chat.lines.append(Line(sent, sender, text))
        line_number += 1 + text.count("\n")
    return chat
