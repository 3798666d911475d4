"""Diminutives, short forms and prefixed names: which two name tokens are one name written differently.

Sources:
- English given names: the `nicknames` package (Carlton Northern's names.csv, Apache-2.0,
  https://github.com/carltonnorthern/nicknames), a maintained list of canonical names and their
  nicknames (Jessica / Jess, Thomas / Tom, Alexander / Alex).
- The communities the evaluation set covers, curated here by the project from common usage (each
  line below one name and its short forms): Romanian, Albanian, Yoruba, Igbo and Edo, Arabic,
  Vietnamese and a few English forms the package lacks.
- Vietnamese gendered middle names (tên đệm) Văn and Thị: most boys' and girls' names carry one, and
  records write the name with or without it ("Cuong Nguyen" / "Van Cuong Nguyen").
- Yoruba and Igbo prefixed names (Oluwa-, Olu-, Ade-, Chukwu-, Chi-): the name without the prefix is
  its everyday short form (Oluwaseun / Seun, Adebayo / Bayo, Chukwuemeka / Emeka).

Tokens are folded (alerts.identity.fold) before they get here.
"""

from __future__ import annotations

from functools import lru_cache

from nicknames import NickNamer

CURATED = """
alexandru alex alexandro sandu
alexandra alexa alex
gabriel gabi
gabriela gabi
cristian cristi
cristina cristi
daniela dana
daniel dan danny
ionel nelu
ion ionut nelu
costel costi costica
constantin costi costel
roxana roxy
denisa deni
ioana oana
madalina mada
nicoleta nicole nico
stefan fane
mihai mihaita
florin flo
florentina flori
georgiana geo
gentian genti
arben beni
endrit endi
blerina bleri
besnik besi
kristi kris
oluwaseun seun
oluwatobi tobi
olumide mide
adebayo bayo
damilola dami lola
oluwadamilola damilola dami
chukwuemeka emeka
chiamaka amaka
chidiebere ebere diebere
chinedu nedu
ikechukwu ike
uchenna uche
funmilayo funmi
oluwafunmilayo funmilayo funmi
ifeoma ify
ifeanyi ify ifeanyichukwu
adaeze ada
osasere osas
omosede sede
babatunde tunde
olusegun segun
oluwasegun segun
oluwakemi kemi
emmanuel manny emma
mohammed mo hamoudi
muhammad mo
abdrahman abdul
abdallah abdul
jessica jess jessie
thomas tom tommy
oliver ollie olly
callum cal
bradley brad
alfie alf
abigail abi abby
amelia millie amy
olivia liv livvy
emily em emmy
megan meg
samuel sam sammy
victor vic
harry haz
kayleigh kay
"""

# Prefixes whose remainder is the everyday short form; joined to the next word when written apart.
PREFIXES = ("oluwa", "chukwu", "olu", "ade", "chi")
ALWAYS_JOINED = frozenset({"oluwa", "chukwu"})  # never a name on their own
MIN_REMAINDER = 4


def _curated() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for line in CURATED.strip().splitlines():
        names = line.split()
        for name in names:
            groups.setdefault(name, set()).update(n for n in names if n != name)
    return {name: frozenset(others) for name, others in groups.items()}


_GROUPS = _curated()
KNOWN_PREFIXED = frozenset(n for n in _GROUPS if n.startswith(PREFIXES))
_NICKNAMES = NickNamer()


@lru_cache(maxsize=100_000)
def without_prefix(token: str) -> str | None:
    """'oluwaseun' -> 'seun', 'adebayo' -> 'bayo'; None when there is no prefix or too little after it."""
    for prefix in PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= MIN_REMAINDER:
            return token[len(prefix) :]
    return None


def joins_prefix(token: str, following: str) -> bool:
    """Whether 'Oluwa Seun' is one name written apart: always for Oluwa- and Chukwu-, else when the
    joined form is a known name ('chi amaka' -> 'chiamaka', not Vietnamese 'chi linh')."""
    return token in ALWAYS_JOINED or (token in PREFIXES and token + following in KNOWN_PREFIXED)


# Vietnamese Văn (boys) and Thị (girls): a middle name shared by most children of that sex, which
# records drop or keep at will: one left unpaired on one side, with nothing left over on the other, is
# no evidence of another name (alerts.matching.scoring).
DROPPABLE_MIDDLE_NAMES = frozenset({"van", "thi"})


MAX_BLOCKING_FORMS = 2  # package full names a short form is filed under (the shortest first): 'mary' is short for dozens
# Given names in their own right in the communities covered, which the package reads as English short
# forms (Ali as Alison): for these the package is not used.
FULL_NAMES_ELSEWHERE = frozenset({"ali", "sami", "adam", "omar", "amir", "amin", "nur", "hana", "sara", "lina", "mina", "dina"})


@lru_cache(maxsize=100_000)
def short_form_keys(token: str) -> frozenset[str]:
    """The full names this token may be a short form of (itself included), for blocking: 'jess' ->
    {'jess', 'jessica', 'jessie'}; a full name and its short forms share one of these. From the package
    only longer names with the same first letter (Tom / Thomas, not Bill / William), at most
    MAX_BLOCKING_FORMS."""
    keys = {token}
    if token not in FULL_NAMES_ELSEWHERE:
        # From a short form to the longer full names only (the package also lists Thomas under Tom).
        longer = (n for n in _NICKNAMES.canonicals_of(token) if n[:1] == token[:1] and len(n) > len(token))
        keys.update(sorted(longer, key=lambda n: (len(n), n))[:MAX_BLOCKING_FORMS])
    curated = _GROUPS.get(token, frozenset())
    keys |= {name for name in curated if len(name) > len(token)}
    bare = without_prefix(token)
    if bare is not None:
        keys.add(bare)
    return frozenset(k for k in keys if len(k) > 1)


@lru_cache(maxsize=400_000)
def same_name(a: str, b: str) -> bool:
    """'jess' / 'jessica', 'alex' / 'alexandru', 'seun' / 'oluwaseun': one is a short form of the other."""
    if a == b:
        return True
    if b in _GROUPS.get(a, frozenset()):
        return True
    english = a not in FULL_NAMES_ELSEWHERE and b not in FULL_NAMES_ELSEWHERE
    if english and (b in _NICKNAMES.nicknames_of(a) or a in _NICKNAMES.nicknames_of(b)):
        return True
    bare_a, bare_b = without_prefix(a), without_prefix(b)
    return (bare_a is not None and bare_a in (b, bare_b)) or (bare_b is not None and bare_b == a)
