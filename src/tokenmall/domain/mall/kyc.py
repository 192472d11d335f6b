"""Real-name verification (实名认证): what a member submits, how it is checked and shown.

A submission holds a real name, a Chinese resident identity number (居民身份证号码, GB 11643:
17 digits, then the ISO 7064 MOD 11-2 check character, ``X`` for ten) and optionally a mobile
number. Only the masked forms are ever shown (``张*``, ``1101**********1234``,
``138****8001``); the full values are stored sealed. A submission is ``pending`` until an
admin verifies or rejects it (with a reason); the member's real-name status follows it
(``transitions.KYC`` and ``transitions.KYC_REVIEW``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from tokenmall.domain.errors import Invalid

MAX_NAME = 50
MAX_REASON = 200
ID_LENGTH = 18
# The weights of the 17 digits: 2^(17 - i) mod 11 (ISO 7064 MOD 11-2); the check character
# is CHECK[sum mod 11].
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
# The provinces' codes (the number's first two digits, GB/T 2260), Hong Kong, Macao and
# Taiwan's residence permits (81-83) and foreigners' permanent residence cards (9x).
PROVINCES = frozenset(
    {
        *(11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37),
        *(41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65),
        *(71, 81, 82, 83, 91, 92, 93, 94, 95, 96, 97, 98, 99),
    }
)
OLDEST_YEAR = 1900
# A name: Chinese characters (the CJK blocks), Latin letters, the middle dot of transcribed
# names (· U+00B7, • U+2022, ・ U+30FB) and single spaces between parts.
_NAME_PART = (
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134fA-Za-z"
    r"\u00b7\u2022\u30fb\.\-']+"
)
NAME = re.compile(rf"^{_NAME_PART}(?: {_NAME_PART})*$")
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


class KycInvalid(Invalid):
    """A submitted value the rules refuse; ``field`` names it."""

    code = "invalid_input"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class SubmissionStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Identity:
    """The full values, as submitted (checked); only ever stored sealed."""

    real_name: str
    id_number: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class KycSubmission:
    """A submission as stored and shown: masked values only (the sealed ones stay below)."""

    tenant_id: str
    submission_id: str
    user_id: str
    status: SubmissionStatus
    name_masked: str
    id_masked: str
    phone_masked: str | None
    submitted_at: datetime
    reason: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


def check_digit(first17: str) -> str:
    """The check character of 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK[total % 11]


def birth_date(number: str) -> date | None:
    """The date of birth an 18-character number carries (None: not a date)."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def _has_control(value: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value)


def real_name(value: str, field: str = "real_name") -> str:
    """The name as it stands on the identity card: 1-50 letters, no digits or controls."""
    if _has_control(value):
        raise KycInvalid(f"{field} must not contain control characters", field)
    cleaned = " ".join(value.split())
    if not cleaned:
        raise KycInvalid(f"{field} must not be empty", field)
    if len(cleaned) > MAX_NAME:
        raise KycInvalid(f"{field} must be at most {MAX_NAME} characters", field)
    if not NAME.match(cleaned):
        raise KycInvalid(
            f"{field} must be the name on the identity card: letters only (Chinese or Latin, "
            "with · between the parts of a transcribed name)",
            field,
        )
    return cleaned


def id_number(value: str, today: date, field: str = "id_number") -> str:
    """An 18-character resident identity number, its check character and date of birth
    checked (upper-case ``X``); spaces around or between groups are ignored."""
    if _has_control(value):
        raise KycInvalid(f"{field} must not contain control characters", field)
    cleaned = "".join(value.split()).upper()
    if not cleaned:
        raise KycInvalid(f"{field} must not be empty", field)
    if (
        len(cleaned) != ID_LENGTH
        or not cleaned[:17].isascii()
        or not cleaned[:17].isdigit()
        or cleaned[17] not in "0123456789X"
    ):
        raise KycInvalid(f"{field} must be 18 characters: 17 digits, then a digit or X", field)
    if int(cleaned[:2]) not in PROVINCES:
        raise KycInvalid(f"{field} does not start with a region's code", field)
    born = birth_date(cleaned)
    if born is None or born.year < OLDEST_YEAR or born > today:
        raise KycInvalid(f"{field} does not carry a plausible date of birth", field)
    if check_digit(cleaned[:17]) != cleaned[17]:
        raise KycInvalid(
            f"{field} is not a valid identity number: its check character does not match", field
        )
    return cleaned


def phone(value: str | None, field: str = "phone") -> str | None:
    """An optional mainland mobile number (11 digits starting 13-19; +86 and spaces
    ignored)."""
    if value is None:
        return None
    if _has_control(value):
        raise KycInvalid(f"{field} must not contain control characters", field)
    cleaned = "".join(value.split()).replace("-", "")
    if cleaned.startswith("+86"):
        cleaned = cleaned[3:]
    if not cleaned:
        return None
    if not cleaned.isascii() or not MOBILE.match(cleaned):
        raise KycInvalid(f"{field} must be a mainland mobile number of 11 digits", field)
    return cleaned


def identity(name: str, number: str, mobile: str | None, today: date) -> Identity:
    """The three values checked, the first at fault named."""
    return Identity(real_name(name), id_number(number, today), phone(mobile))


def reason(value: str, field: str = "reason") -> str:
    """Why a submission is rejected: 1-200 characters, shown to the member."""
    if _has_control(value.replace("\n", " ").replace("\t", " ")):
        raise KycInvalid(f"{field} must not contain control characters", field)
    cleaned = value.strip()
    if not cleaned:
        raise KycInvalid("give the reason for rejecting the submission", field)
    if len(cleaned) > MAX_REASON:
        raise KycInvalid(f"{field} must be at most {MAX_REASON} characters", field)
    return cleaned


def mask_name(name: str) -> str:
    """The first character, a star for each other one that is not a space: ``张*``."""
    return name[0] + "".join(" " if ch == " " else "*" for ch in name[1:])


def mask_id(number: str) -> str:
    """The region's first four and the last four: ``1101**********1234``."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(mobile: str | None) -> str | None:
    return None if mobile is None else mobile[:3] + "****" + mobile[-4:]
