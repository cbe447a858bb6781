"""Medical phrases the scrubber must keep, painted before any identifier rule so none can take them.

Eponymous diseases look like names ("Graves disease" after a patient named Graves, "Mother: Alzheimer's
disease"), and generic clinic and department names look like hospitals or names ("Heart Failure Clinic",
"Internal Medicine"). A list of eponyms is medical vocabulary, not a name gazetteer: it only protects the
eponym when a disease word follows it.
"""

from __future__ import annotations

from plugins.ingest.text_deid_rules import HOSPITAL_GENERIC_EN, Rule, rule

_EPONYM = (
    r"(?:Graves|Parkinson|Alzheimer|Hodgkin|Crohn|Cushing|Addison|Bell|Wilson|Paget|Barrett|Raynaud|Huntington"
    r"|Hashimoto|Kawasaki|Guillain|Barr[eé]|Kaposi|Sj[oö]gren|Marfan|Tourette|M[eé]ni[eè]re|Down|Gehrig|Murphy"
    r"|Babinski|Glasgow|Foley|Whipple|Kayser|Fleischer|Apgar|Wernicke|Korsakoff|Reye|Burkitt|Ewing|Wilms|Takayasu"
    r"|Behcet|Still|Lyme|Meckel|Hirschsprung|Legg|Calv[eé]|Perthes|Osgood|Schlatter|Dupuytren|Peyronie|Bowen)"
)
_EPONYM_HEAD = (
    r"(?:disease|syndrome|lymphoma|palsy|phenomenon|esophagus|sign|thyroiditis|rings?|scale|score|catheter"
    r"|procedure|sarcoma|chorea|ulcer|fracture|disorder|encephalopathy|tumou?r|type|reflex|triad|dementia|arteritis)"
)
#: Phrases painted first and then kept: eponymous diseases ("Graves disease" even after a patient named Graves,
#: "Mother: Alzheimer's disease") and generic clinic and department names ("Heart Failure Clinic",
#: "Internal Medicine").
PROTECTED: tuple[Rule, ...] = (
    rule("KEEP", rf"\b{_EPONYM}(?:['’]s)?(?:[- ]{_EPONYM}(?:['’]s)?)*[ \t]+(?:of[ \t]+)?{_EPONYM_HEAD}\b"),
    rule(
        "KEEP",
        r"\b(?P<id>(?:[A-Z][a-z']+[ \t]+){1,3}(?:Clinic|Center|Centre|Service|Unit|Team|Program|Medicine|Surgery"
        r"|Department|Ward))\b",
        lambda m: all(w.lower() in HOSPITAL_GENERIC_EN for w in m.group("id").split()[:-1]),
    ),
)
