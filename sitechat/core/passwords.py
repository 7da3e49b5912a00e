"""Password policy: length bounds and a refusal list of the most common passwords.

The list is short on purpose (a few kilobytes in memory, no data file): it stops the passwords
attackers try first. Length 12+ already rules out most of the classic top lists, so it leans
on long common phrases and keyboard walks.
"""

from __future__ import annotations

import unicodedata

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128

# One string split on whitespace reads as the word list it is (ruff would make it a list).
COMMON_PASSWORDS = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456123456 111111111111 000000000000
    123123123123 121212121212 112233445566 987654321098 098765432109 123412341234
    qwertyuiopas qwertyuiop123 qwerty123456 qwertyqwerty 1qaz2wsx3edc 1q2w3e4r5t6y
    q1w2e3r4t5y6 zaq12wsxcde3 asdfghjkl123 asdfasdfasdf zxcvbnm12345 qazwsxedcrfv
    1qazxsw23edc passwordpassword password1234 password12345 password123456 password2024
    password2025 password2026 password!123 p@ssw0rd1234 passw0rd1234 mypassword123
    mypassword1234 newpassword123 changeme1234 changeme12345 letmein12345 letmeinplease
    welcome12345 welcome123456 welcometo2024 iloveyou1234 iloveyouforever trustno1trustno1
    administrator admin1234567 adminadmin123 rootroot1234 superman1234 batman123456
    football1234 baseball1234 basketball12 soccer123456 princess1234 sunshine1234
    starwars1234 pokemon12345 dragon123456 monkey123456 master123456 shadow123456
    michael12345 jennifer1234 charlie12345 computer1234 internet1234 whatever1234
    freedom12345 qwertyuiopasdfgh abcdefghijkl abcdefg12345 abc123abc123 abcd1234abcd
    aaaaaaaaaaaa zzzzzzzzzzzz thequickbrownfox ilovemymom123 hello1234567 helloworld123
    helloworld1234 secret123456 summer2024!! winter2024!! spring2025!! autumn2025!!
    january2025! samsung12345 googlepassword facebook1234 linkedin1234 microsoft123
    123qweasdzxc qweasdzxc123 1234qwerasdf 1234abcd1234 00000000000000 888888888888
    666666666666
    """.split()  # noqa: SIM905
)


def _comparable(value: str) -> str:
    return unicodedata.normalize("NFKC", value).casefold()


def password_weakness(password: str, email: str | None = None) -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
    comparable = _comparable(password)
    if comparable in COMMON_PASSWORDS or comparable.replace(" ", "") in COMMON_PASSWORDS:
        return "This password is too common; choose another one."
    if email is not None and comparable in {_comparable(email), _comparable(email.split("@")[0])}:
        return "The password must not be the email address."
    return None
