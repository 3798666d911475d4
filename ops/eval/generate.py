"""Generate the synthetic labelled set for `crucial evaluate` (deterministic for a given seed).

    .venv/bin/python ops/eval/generate.py                       # seed 1 -> ops/eval/data (committed)
    .venv/bin/python ops/eval/generate.py --seed 2 --out var/eval-seed2

Every child here is invented. Each has a hidden "true" identity (name tokens with their known
spellings, sex, country, true date of birth); a profile and a report each *record* that identity the
way real records do — a different transliteration, an alias, given and family names swapped, a middle
name dropped, an age-assessed 1 January date or a disputed range, a new placement reference — and the
labels say which profile (if any) each report is about. Hard negatives: siblings (twins included),
children with the same very common name, children sharing a date of birth; and children with no
profile who are linked by circumstance (a vehicle, phone or associate on a profile).

Writes profiles.jsonl, reports.jsonl (valid PlacementEvents) and labels.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from unidecode import unidecode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from names import COUNTRIES, COUNTRY_WEIGHTS, INDICATORS, LOCAL_AUTHORITIES, PLACES, Spellings, Table

HERE = Path(__file__).resolve().parent
EPOCH = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)  # reports fall in the weeks after this
SEXES = ("male", "female")


# --- identities -----------------------------------------------------------------------------------


@dataclass
class Identity:
    """A child as they really are: the records below are views of this."""

    country: str
    sex: str
    given: list[Spellings]
    family: list[Spellings]
    dob: date
    nicknames: list[str] = field(default_factory=list)


def _pick(rng: random.Random, table: Table, exclude: set[Spellings] | None = None) -> Spellings:
    choices = [(w, s) for w, s in table if not exclude or s not in exclude]
    total = sum(w for w, _ in choices)
    roll = rng.uniform(0, total)
    for weight, spellings in choices:
        roll -= weight
        if roll <= 0:
            return spellings
    return choices[-1][1]


def _country(rng: random.Random) -> str:
    return _pick(rng, [(w, (c,)) for c, w in COUNTRY_WEIGHTS.items()])[0]


def _true_dob(rng: random.Random) -> date:
    return date(2009, 1, 1) + timedelta(days=rng.randrange(0, 6 * 365))


def new_identity(
    rng: random.Random,
    country: str | None = None,
    sex: str | None = None,
    family: list[Spellings] | None = None,
    exclude_given: set[Spellings] | None = None,
    dob: date | None = None,
) -> Identity:
    country = country or _country(rng)
    data: dict[str, Any] = COUNTRIES[country]
    sex = sex or rng.choice(SEXES)
    given = [_pick(rng, data["given"][sex], exclude_given)]
    style = data["style"]
    if style == "vietnamese":
        given = [_pick(rng, data["middle"][sex]), given[0]]
    elif style == "arabic" and rng.random() < 0.35:  # Mohammed Ali, Ahmad Jawad
        given.append(_pick(rng, data["given"]["male"], {given[0]}))
    if family is None:
        family = [_pick(rng, data["family"])]
        if style == "patronymic" and rng.random() < 0.5:  # given, father's, grandfather's name
            family.append(_pick(rng, data["family"], {family[0]}))
    nicknames = [rng.choice(data["nicknames"][sex])] if rng.random() < 0.5 else []
    return Identity(country, sex, given, family, dob or _true_dob(rng), nicknames)


# --- writing a name the way a record would --------------------------------------------------------

_RESPELLINGS = [
    ("ou", "u"),
    ("u", "ou"),
    ("ee", "i"),
    ("i", "ee"),
    ("y", "i"),
    ("i", "y"),
    ("ph", "f"),
    ("f", "ph"),
    ("kh", "k"),
    ("k", "kh"),
    ("c", "k"),
    ("ss", "s"),
    ("mm", "m"),
    ("dd", "d"),
    ("e", "a"),
    ("o", "u"),
]


def respell(rng: random.Random, word: str) -> str:
    """A plausible different transliteration of one word (never the first letter)."""
    plain = unidecode(word)
    options = [(old, new) for old, new in _RESPELLINGS if old in plain[1:].lower()]
    if not options:
        return plain
    old, new = rng.choice(options)
    i = plain.lower().find(old, 1)
    return plain[:i] + new + plain[i + len(old) :]


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def canonical(spellings: Spellings) -> str:
    return spellings[0]


# Names that reach English through another script (Arabic, Ge'ez) are spelled anew by whoever writes
# them down; names already in the Latin alphabet vary only by their known spellings and diacritics.
TRANSLITERATED = {"sd", "af", "er"}


def variant(rng: random.Random, spellings: Spellings, avoid: str, country: str) -> str:
    """Another known spelling of the name, else (transliterated scripts) a rule-based respelling, else
    the name without diacritics; not `avoid` when possible."""
    others = [s for s in spellings if unidecode(s).lower() != unidecode(avoid).lower()]
    if others and (rng.random() < 0.8 or country not in TRANSLITERATED):
        return rng.choice(others)
    if country in TRANSLITERATED:
        again = respell(rng, avoid)
        if again.lower() != avoid.lower():
            return again
    return unidecode(avoid)


# --- dates of birth -------------------------------------------------------------------------------


def record_dob(rng: random.Random, true: date, kind: str) -> dict[str, Any] | None:
    if kind == "missing":
        return None
    if kind == "exact":
        return {"value": true.isoformat()}
    if kind == "swapped":  # day and month transposed on one of the records
        if true.day <= 12 and true.day != true.month:
            return {"value": date(true.year, true.day, true.month).isoformat()}
        return {"value": true.isoformat()}
    if kind == "estimated":  # age-assessed: 1 January, sometimes a year out
        year = true.year + rng.choice((0, 0, 0, -1, 1))
        return {"value": f"{year}-01-01", "estimated": True}
    if kind == "disputed":
        lo = true - timedelta(days=rng.randint(60, 600))
        hi = min(true + timedelta(days=rng.randint(60, 600)), date(2026, 9, 1))
        value = max(lo, min(hi, date(true.year, 1, 1)))
        return {"value": value.isoformat(), "estimated": True, "earliest": lo.isoformat(), "latest": hi.isoformat()}
    raise ValueError(kind)


def _profile_dob_kind(rng: random.Random, country: str) -> str:
    if country == "uk":
        return "exact"
    return rng.choices(("exact", "estimated", "disputed"), (4, 4, 2))[0]


# --- contact details ------------------------------------------------------------------------------


class Pool:
    """Synthetic phones (Ofcom drama range 07700 900xxx) and registrations starting with Z (never issued)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones = [f"+447700900{n:03d}" for n in range(1000)]
        rng.shuffle(self.phones)
        self.used_plates: set[str] = set()

    def phone(self) -> str:
        return self.phones.pop()

    def plate(self) -> str:
        letters = "ABCDEFGHJKLMNOPRSTUVWXY"
        while True:
            plate = f"Z{self.rng.choice(letters)}{self.rng.randint(10, 75)} {''.join(self.rng.choice(letters) for _ in range(3))}"
            if plate not in self.used_plates:
                self.used_plates.add(plate)
                return plate


def adult_name(rng: random.Random, country: str) -> str:
    data: dict[str, Any] = COUNTRIES[country]
    given = canonical(_pick(rng, data["given"]["male" if rng.random() < 0.8 else "female"]))
    return f"{given} {canonical(_pick(rng, data['family']))}"


# --- profiles -------------------------------------------------------------------------------------


@dataclass
class Profiled:
    identity: Identity
    profile: dict[str, Any]
    written_given: list[str]
    written_family: list[str]


def make_profile(rng: random.Random, n: int, identity: Identity, pool: Pool, household: dict[str, Any] | None = None) -> Profiled:
    data: dict[str, Any] = COUNTRIES[identity.country]
    written_given = [
        canonical(s) if rng.random() < 0.75 else variant(rng, s, canonical(s), identity.country) for s in identity.given
    ]
    written_family = [
        canonical(s) if rng.random() < 0.75 else variant(rng, s, canonical(s), identity.country) for s in identity.family
    ]
    if rng.random() < 0.25:  # recorded without diacritics
        written_given = [unidecode(w) for w in written_given]
        written_family = [unidecode(w) for w in written_family]
    aliases: list[str] = []
    if identity.nicknames and rng.random() < 0.8:
        aliases.append(identity.nicknames[0])
    if rng.random() < 0.3:  # a transliteration on another document
        aliases.append(
            " ".join(
                [
                    variant(rng, identity.given[-1], written_given[-1], identity.country),
                    variant(rng, identity.family[0], written_family[0], identity.country),
                ]
            )
        )
    if rng.random() < 0.2:  # given name and family initial, as written on a referral
        aliases.append(f"{written_given[-1]} {unidecode(written_family[0])[0]}.")
    if rng.random() < 0.15:  # a name given by traffickers
        other = new_identity(rng, identity.country, identity.sex)
        aliases.append(f"{canonical(other.given[-1])} {canonical(other.family[0])}")
    la, prefix, _postcode = rng.choice(LOCAL_AUTHORITIES)
    identifiers = [{"scheme": "la_reference", "value": f"{prefix}-20{rng.randint(22, 26)}-{n:04d}"}]
    if identity.country != "uk" and rng.random() < 0.7:
        identifiers.append({"scheme": "home_office", "value": f"HO-{rng.choice('ABCDEFGHKLMS')}{rng.randint(1000000, 9999999)}"})
    if rng.random() < 0.3:
        identifiers.append({"scheme": "nrm", "value": f"NRM-{rng.randint(100000, 999999)}"})
    household = household if household is not None else {}
    associates = household.setdefault(
        "associates",
        [
            {
                "name": adult_name(rng, identity.country),
                "relationship": rng.choice(("claims to be uncle", "older boyfriend", "unknown", "cousin", "employer")),
            }
        ]
        if rng.random() < 0.5
        else [],
    )
    vehicles = household.setdefault("vehicles", [pool.plate()] if rng.random() < 0.3 else [])
    phones = household.setdefault("phones", [pool.phone()] if rng.random() < 0.4 else [])
    profile: dict[str, Any] = {
        "profile_id": f"prof-{n:05d}",
        "identifiers": identifiers,
        "given_names": " ".join(written_given),
        "family_name": " ".join(written_family),
        "aliases": aliases,
        "date_of_birth": record_dob(rng, identity.dob, _profile_dob_kind(rng, identity.country)),
        "sex": identity.sex,
        "nationality": data["nationality"][0],
        "risk_level": rng.choices(("high", "medium", "low"), (5, 4, 1))[0],
        "indicators": rng.sample(INDICATORS, rng.randint(0, 3)),
        "associates": associates,
        "vehicles": vehicles,
        "phone_numbers": phones,
        "places_of_concern": rng.sample(PLACES, rng.randint(0, 2)),
        "responsible_local_authority": la,
        "police_force": "Kent Police" if la == "Kent" else "Metropolitan Police Service",
        "social_worker": {"name": f"Social Worker {n}", "email": f"sw{n}@{prefix.lower()}.gov.example", "phone": "+447700900300"},
    }
    if profile["date_of_birth"] is None:
        del profile["date_of_birth"]
    for key in ("aliases", "indicators", "associates", "vehicles", "phone_numbers", "places_of_concern"):
        if not profile[key]:
            del profile[key]
    return Profiled(identity, profile, written_given, written_family)


# --- reports --------------------------------------------------------------------------------------

NAME_VARIATIONS = ("exact", "transliterated", "swapped", "alias", "initial", "middle_dropped", "diacritics", "typo", "new_alias")
DOB_VARIATIONS = ("same", "exact", "estimated", "disputed", "missing", "swapped")


def report_name(rng: random.Random, p: Profiled, kind: str) -> tuple[str, str | None, list[str]]:
    """(given_names, family_name, aliases) for a report about the profiled child."""
    identity, given, family = p.identity, list(p.written_given), list(p.written_family)
    aliases: list[str] = []
    if kind == "transliterated":
        k = rng.randrange(len(identity.given) + len(identity.family))
        for i in {k, rng.randrange(len(identity.given) + len(identity.family))}:
            if i < len(given):
                given[i] = variant(rng, identity.given[i], given[i], identity.country)
            else:
                j = i - len(given)
                family[j] = variant(rng, identity.family[j], family[j], identity.country)
    elif kind == "swapped":
        return " ".join(family), " ".join(given), aliases
    elif kind == "alias":
        known = p.profile.get("aliases", [])
        if known:
            # A full alias on its own (the name the child gave at placement); a one-word nickname
            # comes with the family name, as a placement records a name.
            alias = rng.choice(known)
            return (alias, None, []) if len(alias.split()) > 1 else (alias, " ".join(family), [])
        given = [variant(rng, identity.given[-1], given[-1], identity.country)]
    elif kind == "initial":
        first = variant(rng, identity.given[-1], given[-1], identity.country) if rng.random() < 0.5 else given[-1]
        return f"{first} {unidecode(family[0])[0]}.", None, aliases
    elif kind == "middle_dropped":
        if len(given) > 1:
            given = [given[-1]]
        elif len(family) > 1:
            family = [family[0]]
        else:
            given = [variant(rng, identity.given[0], given[0], identity.country)]
    elif kind == "diacritics":
        given, family = [unidecode(g) for g in given], [unidecode(f) for f in family]
    elif kind == "typo":
        j = rng.randrange(len(family))
        family[j] = typo(rng, unidecode(family[j]))
    elif kind == "new_alias":
        aliases = [rng.choice(COUNTRIES[identity.country]["nicknames"][identity.sex])]  # type: ignore[index]
    return " ".join(given), " ".join(family), aliases


def report_dob(rng: random.Random, p: Profiled, kind: str) -> dict[str, Any] | None:
    if kind == "same":
        return p.profile.get("date_of_birth")
    return record_dob(rng, p.identity.dob, kind)


def _circumstances(rng: random.Random, at: datetime) -> dict[str, Any]:
    c: dict[str, Any] = {
        "last_seen_at": at.isoformat().replace("+00:00", "Z"),
        "last_seen_place": rng.choice(("front door", "bus stop outside", "school gates", "corner shop", "garden")),
    }
    roll = rng.random()
    if roll < 0.25:
        c["accompanied_by"] = [
            rng.choice(("unknown adult male", "older man in a grey coat", "two older boys", "unknown adult female"))
        ]
    elif roll < 0.35:
        c["accompanied_by"] = ["a friend from school"]
    if rng.random() < 0.2:
        c["vehicles"] = [rng.choice(("silver saloon", "white van", "black taxi", "dark hatchback"))]
    if rng.random() < 0.15:
        c["near"] = [rng.choice(("port", "airport", "coach_station", "railway_station"))]
    if rng.random() < 0.4:
        c["previous_missing_episodes"] = rng.randint(1, 6)
    return c


def make_report(
    rng: random.Random,
    n: int,
    identity: Identity,
    given: str,
    family: str | None,
    aliases: list[str],
    dob: dict[str, Any] | None,
    identifiers: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    at = EPOCH + timedelta(minutes=n * 97 + rng.randint(0, 90))
    la, prefix, postcode = rng.choice(LOCAL_AUTHORITIES)
    child: dict[str, Any] = {
        "reference": f"{prefix}-R{n:05d}",
        "identifiers": identifiers or [],
        "given_names": given,
        "family_name": family,
        "aliases": aliases,
        "date_of_birth": dob,
        "sex": identity.sex if rng.random() < 0.92 else "unknown",
        "nationality": rng.choice(COUNTRIES[identity.country]["nationality"]) if rng.random() < 0.85 else None,  # type: ignore[arg-type]
    }
    child = {k: v for k, v in child.items() if v not in (None, [], "")}
    return {
        "event_id": f"evt-{n:05d}",
        "type": "left_placement",
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "reported_at": (at + timedelta(minutes=rng.randint(5, 90))).isoformat().replace("+00:00", "Z"),
        "placement": {
            "id": f"plc-{prefix.lower()}-{rng.randint(1, 40):02d}",
            "name": f"{la} children's home {rng.randint(1, 9)}",
            "local_authority": la,
            "postcode": f"{postcode} 9ZZ",
            "placed_at": (at - timedelta(hours=rng.uniform(2, 600))).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        },
        "child": child,
        "circumstances": _circumstances(rng, at),
        "reporter": {"name": "Duty carer", "role": "residential care worker", "callback_phone": "+447700900401"},
    }


def _link_into(rng: random.Random, report: dict[str, Any], profile: dict[str, Any]) -> str | None:
    """Put one of the profile's associates, vehicles or phones into the report; the kind, or None."""
    options = []
    if profile.get("associates"):
        options.append("associate")
    if profile.get("vehicles"):
        options.append("vehicle")
    if profile.get("phone_numbers"):
        options.append("phone")
    if not options:
        return None
    kind = rng.choice(options)
    c = report["circumstances"]
    if kind == "associate":
        name = rng.choice(profile["associates"])["name"]
        c["accompanied_by"] = [rng.choice((f"a man called {name}", name, f"{name} (said to be a relative)"))]
    elif kind == "vehicle":
        c["vehicles"] = [f"{rng.choice(('silver', 'black', 'white'))} car, registration {rng.choice(profile['vehicles'])}"]
    else:
        c["phone_numbers"] = [rng.choice(profile["phone_numbers"])]
    return kind


# --- the set --------------------------------------------------------------------------------------


def generate(
    seed: int, n_profiles: int = 300, n_true: int = 200, n_negative: int = 150, n_linked: int = 25
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    pool = Pool(rng)
    profiled: list[Profiled] = []
    households: dict[str, dict[str, Any]] = {}
    for n in range(1, n_profiles + 1):
        if profiled and rng.random() < 0.06:  # a sibling of an earlier profiled child, profiled too
            elder = rng.choice(profiled)
            identity = new_identity(
                rng,
                elder.identity.country,
                family=elder.identity.family,
                exclude_given={elder.identity.given[-1]},
                dob=elder.identity.dob + timedelta(days=rng.choice((0, 400, 700, -500, 1100))),
            )
            household = households[elder.profile["profile_id"]]
        else:
            identity, household = new_identity(rng), {}
        p = make_profile(rng, n, identity, pool, household)
        households[p.profile["profile_id"]] = household
        profiled.append(p)

    reports: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    n = 0

    def add(
        report: dict[str, Any], profile_id: str | None, category: str, variations: list[str], link: str | None = None
    ) -> None:
        reports.append(report)
        labels.append(
            {
                "event_id": report["event_id"],
                "profile_id": profile_id,
                "category": category,
                "variations": variations,
                "link_profile": link,
            }
        )

    # True matches: the profiled child, recorded differently.
    for p in rng.sample(profiled, n_true):
        n += 1
        name_kind = rng.choice(NAME_VARIATIONS)
        dob_kind = rng.choices(DOB_VARIATIONS, (3, 2, 3, 2, 1, 1))[0]
        if name_kind == "initial" and dob_kind == "missing":  # 'Mohamed A.' alone is not an identity
            dob_kind = "estimated"
        given, family, aliases = report_name(rng, p, name_kind)
        identifiers = None
        if "home_office" in json.dumps(p.profile["identifiers"]) and rng.random() < 0.2:
            identifiers = [i for i in p.profile["identifiers"] if i["scheme"] == "home_office"]
        report = make_report(rng, n, p.identity, given, family, aliases, report_dob(rng, p, dob_kind), identifiers)
        variations = [name_kind, f"dob:{dob_kind}"] + (["shared_identifier"] if identifiers else [])
        link = None
        if rng.random() < 0.15 and _link_into(rng, report, p.profile):
            link = p.profile["profile_id"]
            variations.append("corroborating_link")
        add(report, p.profile["profile_id"], "true_match", variations, link)

    # Hard negatives and unrelated children.
    kinds = rng.choices(("sibling", "common_name", "shared_dob", "unrelated"), (3, 3, 3, 2), k=n_negative)
    for kind in kinds:
        n += 1
        target = rng.choice(profiled)
        t = target.identity
        link = None
        if kind == "sibling":
            twin = rng.random() < 0.15
            gap = 0 if twin else rng.choice((-1, 1)) * rng.randint(300, 1800)
            child = new_identity(rng, t.country, family=t.family, exclude_given={t.given[-1]}, dob=t.dob + timedelta(days=gap))
            variations = ["twin" if twin else "sibling"]
        elif kind == "common_name":
            # A child with one of the country's most common family names, half the time the very name
            # of a profiled child too (a namesake), born years apart from every profiled child so named.
            common = _pick(rng, [(w, s) for w, s in COUNTRIES[t.country]["family"][:3]])  # type: ignore[index]
            child = new_identity(rng, t.country, t.sex, family=[common])
            if rng.random() < 0.5:
                child.given = list(t.given)
            same = [q for q in profiled if q.identity.family[0] == common and q.identity.given[-1] == child.given[-1]]
            for _ in range(50):
                if all(abs((child.dob - q.identity.dob).days) >= 900 for q in same):
                    break
                child.dob = _true_dob(rng)
            else:  # no year is far enough from them all: a different given name instead
                child.given = new_identity(rng, t.country, t.sex, exclude_given={g for q in same for g in q.identity.given}).given
                same = []
            target = same[0] if same else target
            variations = ["namesake" if same else "common_name"]
        elif kind == "shared_dob":
            child = new_identity(rng, t.country, t.sex, dob=t.dob, exclude_given={t.given[-1]})
            variations = ["shared_dob"]
        else:
            child = new_identity(rng)
            variations = ["unrelated"]
        dob_kind = rng.choices(("exact", "estimated", "disputed"), (5, 3, 1))[0]
        if kind == "shared_dob":
            dob_kind = "exact"
        given = " ".join(
            canonical(s) if rng.random() < 0.7 else variant(rng, s, canonical(s), child.country) for s in child.given
        )
        family = " ".join(canonical(s) for s in child.family)
        report = make_report(rng, n, child, given, family, [], record_dob(rng, child.dob, dob_kind))
        if kind == "sibling" and rng.random() < 0.3 and _link_into(rng, report, target.profile):
            link = target.profile["profile_id"]  # the household's car or phone: a true link, not the child
            variations.append("household_link")
        add(report, None, f"negative:{kind}", [*variations, f"near:{target.profile['profile_id']}"], link)

    # Children with no profile, linked by circumstance to a profile.
    with_links = [
        p for p in profiled if p.profile.get("associates") or p.profile.get("vehicles") or p.profile.get("phone_numbers")
    ]
    for target in rng.sample(with_links, n_linked):
        n += 1
        child = new_identity(rng)
        report = make_report(
            rng,
            n,
            child,
            " ".join(canonical(s) for s in child.given),
            " ".join(canonical(s) for s in child.family),
            [],
            record_dob(rng, child.dob, "exact"),
        )
        kind = _link_into(rng, report, target.profile)
        add(report, None, "linked_no_profile", [f"link:{kind}"], target.profile["profile_id"])

    order = list(range(len(reports)))
    rng.shuffle(order)
    return [p.profile for p in profiled], [reports[i] for i in order], [labels[i] for i in order]


def _dump(rows: list[dict[str, Any]], path: Path) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows), encoding="utf-8")


def write(seed: int, out: Path) -> None:
    profiles, reports, labels = generate(seed)
    out.mkdir(parents=True, exist_ok=True)
    _dump(profiles, out / "profiles.jsonl")
    _dump(reports, out / "reports.jsonl")
    _dump(labels, out / "labels.jsonl")
    (out / "SEED").write_text(f"{seed}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "data")
    args = parser.parse_args()
    write(args.seed, args.out)
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.glob("*.jsonl"))}
    print(f"seed {args.seed} -> {args.out}: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
