"""Slot values for the corpus templates: names from faker's locales plus generated Korean given names, and
dates, ages, phones, addresses, hospitals, IDs and medical sentences in the formats hospitals write.

The held-out split draws English names from locales the scrubber's gazetteer does not read (en_GB, en_IE,
en_NZ, en_AU) as well as en_US, and Korean given names from a syllable set the dev split does not use, so
recall is not measured on the gazetteer's own entries alone. The dev split likewise mixes in names from other
locales (en_IN, en_NG, en_KE, en_PK) and syllables, for the CRF to learn more than the gazetteer.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Callable

from faker import Faker

# Surnames that are also eponyms: a patient called Graves must not take "Graves disease" with them.
EPONYMS = {
    "Graves": "Graves disease",
    "Parkinson": "Parkinson disease",
    "Wilson": "Wilson disease",
    "Addison": "Addison's disease",
    "Cushing": "Cushing syndrome",
    "Hodgkin": "Hodgkin lymphoma",
    "Bell": "Bell's palsy",
    "Crohn": "Crohn's disease",
    "Paget": "Paget disease of bone",
    "Alzheimer": "Alzheimer's disease",
    "Barrett": "Barrett esophagus",
    "Raynaud": "Raynaud phenomenon",
}
_KO_GIVEN_SYLLABLES = {
    # dev mixes syllables of faker's given names with others (라별봄솔…) so that the CRF cannot learn
    # "a name is made of gazetteer syllables"; held-out uses yet other ones
    "dev": "민서지현준영수진우예은하유도윤연성재혜경정승동상주라별봄솔담겸률로비새슬",
    "heldout": "희원아나다채소태호석용철훈빈율린온결건한규찬혁숙자순옥미선",
}
# dev also draws names from English locales outside the scrubber's en_US gazetteer (and outside held-out's),
# so that the CRF learns a name's shape and context, not only gazetteer hits
_EN_LOCALES = {
    "dev": ["en_US", "en_IN", "en_NG", "en_KE", "en_PK"],
    "heldout": ["en_GB", "en_IE", "en_NZ", "en_AU", "en_US"],
}
_FAKERS: dict[str, Faker] = {}


def _faker(locale: str | list[str]) -> Faker:
    key = ",".join(locale) if isinstance(locale, list) else locale
    if key not in _FAKERS:
        _FAKERS[key] = Faker(locale)
    return _FAKERS[key]


class Values:
    """One note's slot filler: person slots keep their value within the note, others are drawn anew."""

    def __init__(self, rng: random.Random, split: str) -> None:
        self.rng = rng
        self.split = split
        self.en = _faker(_EN_LOCALES[split])
        self.ko = _faker("ko_KR")
        self.en.seed_instance(rng.randrange(2**31))
        self.ko.seed_instance(rng.randrange(2**31))
        self.people: dict[str, tuple[str, str]] = {}
        from bench.text_corpus.pools import POOLS

        self.pools = POOLS[split]

    # ---------------------------------------------------------------- people
    def _en_person(self, key: str, eponym: bool = False) -> tuple[str, str]:
        if key not in self.people:
            first = self.en.first_name()
            last = (
                self.rng.choice(list(EPONYMS)) if eponym and self.rng.random() < 0.5 else self.en.last_name()
            )
            self.people[key] = (first, last)
        return self.people[key]

    def _ko_person(self, key: str) -> tuple[str, str]:
        if key not in self.people:
            surname = self.ko.last_name()
            if self.rng.random() < 0.4:
                given = self.ko.first_name()
            else:
                syllables = _KO_GIVEN_SYLLABLES[self.split]
                given = "".join(self.rng.choice(syllables) for _ in range(2))
            self.people[key] = (surname, given)
        return self.people[key]

    def fill(self, slot: str) -> tuple[str, str]:
        """The (PHI kind, text) of a slot; kind "" for medical content marked with [[ ]]."""
        person = slot.rstrip("fgl")
        suffix = slot[len(person) :]
        if person in ("P", "R", "D", "N", "D2"):
            first, last = self._en_person(person, eponym=person == "P")
            text = {"": f"{first} {last}", "f": first, "l": last}[suffix]
            return "NAME", text
        if person in ("KP", "KR", "KD", "KN"):
            surname, given = self._ko_person(person)
            return "NAME", {"": surname + given, "g": given}[suffix]
        if slot == "EPO":
            last = self._en_person("P", eponym=True)[1]
            disease = EPONYMS.get(last) or self.rng.choice(list(EPONYMS.values()))
            return "", f"[[{disease}]]"
        if slot in ("MED", "KMED"):
            pool = self.pools["en" if slot == "MED" else "ko"]
            return "", " ".join(self.rng.sample(pool, 2))
        return _SIMPLE[slot](self)

    # ---------------------------------------------------------------- simple values
    def date(self) -> datetime.date:
        return datetime.date(1935, 1, 1) + datetime.timedelta(days=self.rng.randrange(33_000))

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))


def _en_date(v: Values) -> str:
    d = v.date()
    return d.strftime(
        v.pick("%m/%d/%Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y", "%b %d", "%d-%b-%Y", "%-m/%-d/%y", "%B %Y")
    )


def _ko_date(v: Values) -> str:
    d = v.date()
    return v.pick(
        f"{d.year}년 {d.month}월 {d.day}일",
        f"{d:%Y.%m.%d}",
        f"{d:%Y-%m-%d}",
        f"{d.month}월 {d.day}일",
        f"{d:%y}.{d.month}.{d.day}",
        f"{d:%y.%m.%d}",
        f"{d:%Y%m%d}",
    )


def _ko_short_date(v: Values) -> str:
    d = v.date()
    return f"{d:%y}.{d.month}.{d.day}"


def _en_phone(v: Values) -> str:
    a, b, c = (
        str(v.rng.randint(2, 9)) + v.digits(2),
        v.digits(3),
        v.digits(4),
    )  # NANP: no area code starts 0/1
    return v.pick(f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"1-{a}-{b}-{c}")


def _en_phone_ext(v: Values) -> str:
    return f"{_en_phone(v)} {v.pick('x', 'ext. ', 'ext ', 'x')}{v.digits(v.rng.randint(3, 5))}"


def _ko_phone(v: Values) -> str:
    mobile = f"010-{v.digits(4)}-{v.digits(4)}"
    return v.pick(mobile, mobile.replace("-", ""), f"02-{v.digits(4)}-{v.digits(4)}", v.ko.phone_number())


def _extension(v: Values) -> str:
    return v.pick("x", "ext. ", "내선 ") + v.digits(4)


def _en_address(v: Values) -> str:
    street = f"{v.rng.randint(1, 9999)} {v.en.last_name()} {v.en.street_suffix()}"
    tail = v.pick(f", {v.en.city()}", f", {v.en.city()}, {v.en.postcode()}", "")
    return street + tail


def _romanized_ko_address(v: Values) -> str:
    road = v.pick(
        "Olympic", "Teheran", "Sejong-daero", "Jong", "Eulji", "Banpo-daero", "Gangnam-daero", "Dosan-daero"
    )
    road = road if "-" in road else f"{road}-ro"
    gil = v.pick("", f" {v.rng.randint(1, 80)}-gil")
    city = v.pick(", Songpa-gu, Seoul", ", Jongno-gu, Seoul", ", Bundang-gu, Seongnam-si", "")
    return f"{v.rng.randint(1, 300)}, {road}{gil}{city}"


def _ko_address(v: Values) -> str:
    return v.pick(v.ko.road_address(), v.ko.land_address(), v.ko.address())


def _age90(v: Values) -> str:
    return str(v.rng.randint(90, 104))


def _mrn(v: Values) -> str:
    return v.pick(v.digits(8), f"{v.digits(2)}-{v.digits(6)}", f"A{v.digits(7)}", v.digits(10))


def _serial(v: Values) -> str:
    letters = "".join(v.rng.choice(string.ascii_uppercase) for _ in range(v.rng.randint(2, 3)))
    return v.pick(
        f"{letters}{v.digits(6)}",
        f"{letters}-{v.digits(4)}-{v.digits(4)}",
        f"{v.digits(4)}{letters}{v.digits(3)}",
    )


def _rrn(v: Values) -> str:
    d = v.date()
    return f"{d:%y%m%d}-{v.pick('1', '2', '3', '4')}{v.digits(6)}"


def _email(v: Values) -> str:
    return v.en.email()


def _hospital(v: Values, language: str) -> str:
    from bench.text_corpus.pools import HOSPITALS

    return v.rng.choice(HOSPITALS[v.split][language])


_SIMPLE: dict[str, Callable[[Values], tuple[str, str]]] = {
    "DATE": lambda v: ("DATE", _en_date(v)),
    "KDATE": lambda v: ("DATE", _ko_date(v)),
    "KSDATE": lambda v: ("DATE", _ko_short_date(v)),
    "AGE": lambda v: ("AGE", _age90(v)),
    "PHONE": lambda v: ("PHONE", _en_phone(v)),
    "PHONEX": lambda v: ("PHONE", _en_phone_ext(v)),
    "EXT": lambda v: ("PHONE", _extension(v)),
    "KPHONE": lambda v: ("PHONE", _ko_phone(v)),
    "ADDR": lambda v: ("ADDRESS", _en_address(v)),
    "RADDR": lambda v: ("ADDRESS", _romanized_ko_address(v)),
    "KADDR": lambda v: ("ADDRESS", _ko_address(v)),
    "HOSP": lambda v: ("HOSPITAL", _hospital(v, "en")),
    "KHOSP": lambda v: ("HOSPITAL", _hospital(v, "ko")),
    "MRN": lambda v: ("ID", _mrn(v)),
    "SSN": lambda v: ("ID", f"{v.digits(3)}-{v.digits(2)}-{v.digits(4)}"),
    "RRN": lambda v: ("ID", _rrn(v)),
    "SERIAL": lambda v: ("ID", _serial(v)),
    "EMAIL": lambda v: ("CONTACT", _email(v)),
}
