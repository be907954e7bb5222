"""Text analysis shared by articles and queries: phrases, synonyms, stop words, stemming.

Everything here is deliberately small and rule-based so that an operator can
read and extend it: add a phrase or synonym when customers use a word the
articles do not (prefer adding it to an article's ``keywords`` when it only
concerns one article).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"'s\b")

# Multi-word expressions rewritten before tokenising (applied to articles and
# queries alike, so both sides end up with the same vocabulary). Compound
# tokens such as "giftcard" keep a concept from matching on one of its words.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bas (?:long|soon) as\b", " if "),
        (r"\be[- ]mails?\b", " email "),
        (r"\$", " dollar "),
        (r"\bwear and tear\b", " weartear "),
        (r"%", " percent "),
        (r"\bsame[- ]day\b", " sameday "),
        (r"\b(?:shows?|showed|turns?|turned) up\b|\bget here\b", " arrive "),
        (r"\bget in touch\b|\bget hold of\b", " contact "),
        (
            r"\bhow much (?:do|does|will|would) (?:you|it|they|u) charge\b|\bwhat do you charge\b",
            " cost ",
        ),
        (r"\bfor less\b|\bless expensive\b", " cheaper "),
        (r"\bruns? (?:big|small|large|true to size|narrow|wide)\b", " size "),
        (r"\bmoney back\b", " refund "),
        (r"\bchang(?:e|ed|ing) (?:my|your|their|our) minds?\b", " cancel "),
        (
            r"\b(?:send|ship|take|bring|mail|post)(?:ing)? (?:\w+ ){0,2}back\b",
            " return ",
        ),
        (r"\bgift (?:voucher|certificate)s?\b", " giftcard "),
        (r"\be-?gift cards?\b", " giftcard "),
        (r"\bgift cards?\b", " giftcard "),
        (
            r"\b(?:promo|discount|coupon|voucher|promotional|promotion) codes?\b",
            " promo ",
        ),
        (
            r"\b(?:shipping|delivery|postage) (?:options?|methods?|choices?|speeds?)\b",
            " shippingoption ",
        ),
        (
            r"\b(?:payment|paying) (?:options?|methods?|types?)\b|\bways? (?:to|of|i can) pay\b",
            " paymentmethod ",
        ),
        (r"\bnext[- ]day\b", " nextday "),
        (r"\bsales tax(?:es)?\b|\bvat\b", " salestax "),
        (
            r"\b(?:place|make|put|submit)(?:s|d|ing)? (?:an? |my |the )?orders?\b",
            " placeorder ",
        ),
        (
            r"\bhow (?:do|does|can|would|to) (?:i |we |you )?order(?:ing)?\b",
            " placeorder ",
        ),
        (r"\btax (?:id|number)s?\b", " taxid "),
        (
            r"\b(?:two|2)[ -]?(?:factor|step)(?: authentication| verification)?\b",
            " twofactor ",
        ),
        (r"\b(?:2fa|mfa)\b", " twofactor "),
        (r"\b(?:log|sign)(?:ged|ging)? ?(?:in|on)(?:to)?\b", " login "),
        (r"\b(?:sign|signing|signed|signs) ?(?:me |us )?up\b", " subscribe "),
        (r"\bopt(?:ing)? ?out\b", " unsubscribe "),
        (r"\bcustomer (?:service|support|care)\b", " support "),
        (r"\bhelp ?desk\b", " support "),
        (
            r"\b(?:stopped|stops|stop|quit|not|isn't|doesn't|won't) (?:working|work|turning on|turn on)\b",
            " defect ",
        ),
        (r"\boutside (?:of )?the (?:us|usa|united states|states)\b", " international "),
        (r"\b(?:other|another|foreign) countr(?:y|ies)\b", " international "),
        (r"\bunited kingdom\b", " international "),
        (r"\bunited states(?: of america)?\b", " usa "),
        (r"\bpublic holidays?\b", " holiday "),
        (r"\bnew year'?s?(?: day| eve)?\b", " holiday "),
        (r"\bhow long\b", " long "),
        (r"\bcheck(?:ing|ed)? ?out\b", " checkout "),
        (r"\b(?:does ?n[o']?t|did ?n[o']?t|do ?n[o']?t|not|won't) fit\b", " size "),
        (r"\btoo (?:small|big|large|tight|loose|short|long)\b", " size "),
        (
            r"\bhow much (?:money |credit )?(?:is |do i have )?(?:left|remaining)\b",
            " balance ",
        ),
        (
            r"\bwithout (?:my )?(?:permission|consent|authori[sz]ation)\b",
            " unauthorized ",
        ),
    )
)

# Single-word synonyms, applied to raw tokens before stemming: canonical word ->
# the variants customers use.
_SYNONYM_GROUPS: dict[str, str] = {
    "package": "parcel parcels packet packages",
    "buy": "buying bought buys purchase purchased purchasing purchases",
    "defect": "broke broken break breaks faulty defective defects malfunction malfunctioning dead died dies",
    "repair": "fix fixed fixing repaired",
    "warranty": "guarantee guaranty warranties",
    "invoice": "receipt receipts bill",
    "refund": "reimburse reimbursed reimbursement money refunded refunds",
    "phone": "telephone",
    "email": "mail emails emailed",
    "contact": "talk speak reach",
    "arrive": "arrival arriving receive received receiving",
    "international": "abroad overseas internationally worldwide uk england britain canada mexico europe germany france australia ireland india japan china spain italy brazil",
    "promo": "coupon coupons voucher vouchers",
    "cheaper": "cheap cheapest lower",
    "holiday": "christmas thanksgiving easter holidays",
    "colour": "color colors colours",
    "exchange": "swap swapped",
    "item": "product products goods article",
    "hack": "hacker hackers hacked compromised hijacked stolen",
    "secure": "safe safety protected",
    "fast": "quick quickly faster fastest speedy soon",
    "cancel": "cancelled canceled cancelling canceling cancellation cancellations",
    "size": "bigger smaller larger sizes",
    "expire": "expiry expires expired expiration expiring",
    "unauthorized": "unauthorised",
    "nextday": "overnight",
    "cost": "fee fees costs costing",
    "combine": "stack stacking combining combined",
    "somewhere": "elsewhere",
    "when": "whens",
    "going": "gonna",
    "want": "wanna",
    "dollar": "dollars bucks usd",
    "worn": "wore wear wearing unworn",
}
_SYNONYMS = {
    variant: canonical
    for canonical, variants in _SYNONYM_GROUPS.items()
    for variant in variants.split()
}

# Post-stemming fixes for irregular forms the suffix rules get wrong.
_STEM_FIXES = {"deliv": "deliver"}

_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any anything are as at be
    because been before being below between both but by can cannot could did do does
    doing done down during each either else etc ever every few for from further get
    gets getting got had has have having he her here hers him his how i if in into is
    it its itself just let me might mine more most much many must my myself need needs
    no nor not now of off ok okay on once only or other our ours out over own please
    pls plz same shall she should so some something somebody someone still such than
    that the their them then there these they this those through till to too u under
    until up ur us very via want wanted wants was way ways we well were what whats when
    where whether which while who whom why will with would yes yet you your yours
    yourself hi hello hey thanks thank thx hmm um uh like know tell help really
    actually maybe stuff thing things anyone everything im ive id dont doesnt didnt
    cant wont isnt hasnt havent wasnt werent arent couldnt wouldnt shouldnt guys
    question questions wondering wonder
    sell sells sold offer offers provide provides go goes going went back give gives
    gave given make makes made take takes took taken happen happens happened mean
    means say says said look looking try tried trying work works worked see saw seen
    find found type enter put use using enable activate turn set setup option options
    method methods time name another possible pick picked choose chose chosen select
    site website web online app today tomorrow tonight currently right
    """.split()
)

# Words that say *what* or *who* a question is about but not which policy it
# concerns ("return a sweater", "a gift card for my sister"). Treating them as
# stop words keeps them from diluting coverage; off-topic product questions
# ("is the iphone in stock") still fail because of their other words.
_FILLER_WORDS = frozenset(
    """
    mom mum dad mother father sister brother wife husband son daughter kid
    child children friend family boyfriend girlfriend partner grandma grandpa
    boss colleague
    shirt tshirt sweater jumper hoodie jacket coat dress skirt jeans pants
    trousers shorts shoe sneaker boot sock hat
    headphone earbud laptop tablet ipad iphone smartphone tv television speaker
    camera charger cable console monitor keyboard mouse smartwatch watch lamp
    blender toaster kettle vacuum sofa couch chair table pillow towel blanket
    mug pan pot
    """.split()
)


def stem(word: str) -> str:
    """Strip common English suffixes so that "ships", "shipped" and "shipping" agree.

    Args:
        word: A lower-case token.

    Returns:
        The stem; not necessarily a real word ("arrive" -> "arriv").
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    stripped = False
    for suffix, min_len in (
        ("ation", 8),
        ("ment", 7),
        ("ity", 7),
        ("able", 7),
        ("ing", 6),
        ("ed", 5),
        ("ly", 6),
    ):
        if word.endswith(suffix) and len(word) >= min_len:
            word = word[: -len(suffix)]
            stripped = True
            break
    if word.endswith("ery") and len(word) > 5:
        word = word[:-1]
    if stripped and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return _STEM_FIXES.get(word, word)


_FILLER_TERMS = frozenset(stem(word) for word in _FILLER_WORDS)


def analyze(text: str) -> list[str]:
    """Turn text into search terms (synonyms, stop words and stemming applied).

    Args:
        text: Any customer or article text.

    Returns:
        The terms in order of appearance, possibly with repeats.
    """
    text = text.lower().replace("\u2019", "'")
    text = _POSSESSIVE.sub("", text)
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    terms: list[str] = []
    for token in _TOKEN.findall(text.replace("'", "")):
        token = _SYNONYMS.get(token, token)
        if (
            not token
            or token in _STOP_WORDS
            or (len(token) == 1 and not token.isdigit())
        ):
            continue
        term = stem(token)
        if term not in _FILLER_TERMS:
            terms.append(term)
    return terms
