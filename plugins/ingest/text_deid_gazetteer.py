"""Name gazetteers for the text scrubber, read from faker's en_US and ko_KR person providers (census-derived
lists kept by the faker project) rather than typed by hand, plus faker's list of common English words.

names-dataset (730 k first names, 980 k surnames) was considered: its wheel is 56 MB and its loader builds
a multi-GB dictionary in memory, too heavy for an ingest worker; faker's lists are small and already locked.
"""

from __future__ import annotations

from functools import cache

from faker.providers.lorem.en_US import Provider as EnLorem
from faker.providers.person.en_US import Provider as EnPerson
from faker.providers.person.ko_KR import Provider as KoPerson

# Compound surnames and rarer one-syllable ones beyond faker's 44 (Statistics Korea census, >99% of people).
_KO_EXTRA_SURNAMES = (
    "남궁 황보 제갈 선우 독고 사공 서문 김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 유 전 홍 고 문 양 손 배"
    " 백 허 남 심 노 하 곽 성 차 주 우 구 민 나 진 지 엄 채 원 천 방 공 현 함 변 염 여 추 도 소 석 선 설 마 길 연 위 표"
    " 명 기 반 라 왕 금 옥 육 인 맹 제 모 탁 국 어 은 편 용 예 경 봉"
).split()


@cache
def en_first_names() -> frozenset[str]:
    return frozenset(EnPerson.first_names_female) | frozenset(EnPerson.first_names_male)


@cache
def en_last_names() -> frozenset[str]:
    return frozenset(EnPerson.last_names)


@cache
def en_common_words() -> frozenset[str]:
    """Lower-case common English words: a capitalised one at a sentence start is rarely a name."""
    return frozenset(EnLorem.word_list)


@cache
def ko_surnames() -> frozenset[str]:
    return frozenset(KoPerson.last_names) | frozenset(_KO_EXTRA_SURNAMES)


@cache
def ko_given_names() -> frozenset[str]:
    return frozenset(KoPerson.first_names_female) | frozenset(KoPerson.first_names_male)
