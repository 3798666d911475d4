"""A crowd of realistic namesake profiles, and labelled reports that test the matcher among them.

    crucial evaluate --crowd 10000 [--crowd-seed 11]          # the labelled set(s) + this crowd
    .venv/bin/python ops/eval/crowd.py --size 10000 --out var/crowd-10k   # write the files

Every child here is invented. The crowd is drawn the way referrals are spread, not evenly:
- nationality by the labelled set's mix (names.COUNTRY_WEIGHTS);
- given and family names Zipf-distributed within each nationality: each table of names.py ranked by
  its weight, rank r drawn with weight 1 / r ** ZIPF_S — so a few names per community cover much of it;
- ages 10-17 at the report dates; dates of birth recorded as profiles record them (exact for UK
  nationals, else exact / age-assessed 1 January / disputed range, 4:4:2);
- true namesake twins: for a share of the labelled children and of the crowd, another profile with the
  very same written name and sex, born within a month (or in the same year, recorded as an estimate).

Reports, labelled (category "crowd:true" about a crowd profile, "crowd:negative" a child with no
profile drawn from the same distribution, often a namesake of crowd profiles), recorded with the
variations seen in real records: diminutives and short forms (Jess / Jessica, Alex / Alexandru), prefixed
Yoruba and Igbo names both ways and split (Seun / Oluwaseun / Oluwa Seun, Emeka / Chukwuemeka), a
multi-word given name written as one word (Thanh Tùng / Thanhtung), zero-width, soft-hyphen and bidi
characters inside a name, the profile's phone written another way (+44 (0)7700 900555 / 07700 900555),
estimated dates, transliterations, typos, swapped and dropped names. The short forms below are this
generator's own list of what records write, not the matcher's (alerts/short_forms.py).

A label's `twin` says whether the child has a close namesake twin among the profiles other than their
own: the same name classes (each token's name in names.py, short forms to the full name) and sex, and a
date of birth within 31 days — or 366 when either date is estimated.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from unidecode import unidecode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import EPOCH, Identity, canonical, make_report, record_dob, typo, variant
from names import COUNTRIES, COUNTRY_WEIGHTS, LOCAL_AUTHORITIES, Spellings, Table

ZIPF_S = 1.0
SEXES = ("male", "female")
TWIN_SHARE = 0.08  # of the labelled children and the crowd's reported children, given a namesake twin
CROWD_REPORTS = 300  # labelled reports about crowd profiles, and as many about children with none

# Short forms records write (generator side): full name -> short forms.
SHORT_FORMS: dict[str, tuple[str, ...]] = {
    # English
    "jessica": ("Jess", "Jessie"),
    "thomas": ("Tom", "Tommy"),
    "oliver": ("Ollie", "Olly"),
    "callum": ("Cal",),
    "bradley": ("Brad",),
    "alfie": ("Alf",),
    "abigail": ("Abi", "Abby"),
    "amelia": ("Millie", "Amy"),
    "olivia": ("Liv", "Livvy"),
    "emily": ("Em", "Emmy"),
    "megan": ("Meg",),
    "daniel": ("Dan", "Danny"),
    "samuel": ("Sam", "Sammy"),
    "victor": ("Vic",),
    "emmanuel": ("Manny",),
    "harry": ("Haz",),
    "kayleigh": ("Kay",),
    # Romanian
    "alexandru": ("Alex",),
    "alexandra": ("Alexa", "Alex"),
    "gabriel": ("Gabi",),
    "cristian": ("Cristi",),
    "cristina": ("Cristi",),
    "daniela": ("Dana",),
    "ionel": ("Nelu",),
    "costel": ("Costi",),
    "roxana": ("Roxy",),
    "denisa": ("Deni",),
    "ioana": ("Oana",),
    "madalina": ("Mada",),
    "nicoleta": ("Nicole",),
    "stefan": ("Fane",),
    # Albanian
    "gentian": ("Genti",),
    "arben": ("Beni",),
    "endrit": ("Endi",),
    "blerina": ("Bleri",),
    # Yoruba, Igbo, Edo: prefixed names and their short forms
    "oluwaseun": ("Seun",),
    "oluwatobi": ("Tobi",),
    "olumide": ("Mide",),
    "adebayo": ("Bayo",),
    "damilola": ("Dami",),
    "chukwuemeka": ("Emeka",),
    "chiamaka": ("Amaka",),
    "chidiebere": ("Ebere",),
    "chinedu": ("Nedu",),
    "ikechukwu": ("Ike",),
    "uchenna": ("Uche",),
    "funmilayo": ("Funmi",),
    "ifeoma": ("Ify",),
    "ifeanyi": ("Ify",),
    "adaeze": ("Ada",),
    "osasere": ("Osas",),
    "omosede": ("Sede",),
    "babatunde": ("Tunde",),
    # Arabic
    "mohammed": ("Mo",),
    "abdulrahman": ("Abdul",),
}
PREFIX_SPLITS = {"oluwa": "Oluwa", "chukwu": "Chukwu", "olu": "Olu", "ade": "Ade", "chi": "Chi"}
INVISIBLE = ("\u200b", "\u00ad", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u202a", "\u202c")
# Ofcom drama-range landlines and mobiles, never allocated.
PHONE_RANGES = ("7946", "1134960", "1164960", "1214960", "1314960", "1414960", "1514960", "1614960", "1914980")


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(PHONE_RANGES)
    if prefix == "7946":
        return f"+4420{prefix}{rng.randrange(10000):04d}"
    return f"+44{prefix}{rng.randrange(1000):03d}"


def written_phone(rng: random.Random, e164: str) -> str:
    """The same number as people write it: '+44 (0)20 7946 0555', '020 7946 0555', '0044 …'."""
    national = "0" + e164[3:]
    area, rest = (national[:3], national[3:]) if national.startswith("02") else (national[:5], national[5:])
    return rng.choice(
        (
            f"+44 (0){area[1:]} {rest}",
            f"{area} {rest}",
            f"0044 {area[1:]} {rest}",
            f"{area}-{rest[:3]}-{rest[3:]}",
            f"({area}) {rest}",
            f"+44 {area[1:]} {rest}",
        )
    )


# --- Zipf names ------------------------------------------------------------------------------------


def zipf(table: Table) -> list[tuple[float, Spellings]]:
    ranked = sorted(table, key=lambda entry: -entry[0])
    return [(1.0 / (rank**ZIPF_S), spellings) for rank, (_, spellings) in enumerate(ranked, start=1)]


_ZIPF: dict[tuple[str, str], list[tuple[float, Spellings]]] = {}


def _zipf_table(country: str, part: str) -> list[tuple[float, Spellings]]:
    key = (country, part)
    if key not in _ZIPF:
        data: dict[str, Any] = COUNTRIES[country]
        if part == "family":
            table = data["family"]
        else:
            kind, sex = part.split(":")
            table = data[kind][sex]
        _ZIPF[key] = zipf(table)
    return _ZIPF[key]


def _draw(rng: random.Random, choices: list[tuple[float, Spellings]], exclude: Spellings | None = None) -> Spellings:
    usable = [(w, s) for w, s in choices if s != exclude]
    return rng.choices([s for _, s in usable], [w for w, _ in usable])[0]


def _country(rng: random.Random) -> str:
    return rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]


def crowd_identity(rng: random.Random) -> Identity:
    country = _country(rng)
    sex = rng.choice(SEXES)
    style = COUNTRIES[country]["style"]
    given = [_draw(rng, _zipf_table(country, f"given:{sex}"))]
    if style == "vietnamese":
        given = [_draw(rng, _zipf_table(country, f"middle:{sex}")), given[0]]
    elif style == "arabic" and rng.random() < 0.35:
        given.append(_draw(rng, _zipf_table(country, "given:male"), given[0]))
    family = [_draw(rng, _zipf_table(country, "family"))]
    if style == "patronymic" and rng.random() < 0.5:
        family.append(_draw(rng, _zipf_table(country, "family"), family[0]))
    born = EPOCH.date() - timedelta(days=rng.randint(10 * 365 + 3, 18 * 365 + 3))
    return Identity(country, sex, given, family, born)


# --- profiles ---------------------------------------------------------------------------------------


@dataclass
class CrowdChild:
    identity: Identity
    given: str
    family: str
    profile: dict[str, Any] | None = None


def _written(rng: random.Random, identity: Identity) -> tuple[str, str]:
    def one(s: Spellings) -> str:
        return canonical(s) if rng.random() < 0.8 else variant(rng, s, canonical(s), identity.country)

    return " ".join(one(s) for s in identity.given), " ".join(one(s) for s in identity.family)


def _dob_kind(rng: random.Random, country: str) -> str:
    return "exact" if country == "uk" else rng.choices(("exact", "estimated", "disputed"), (4, 4, 2))[0]


def crowd_profile(rng: random.Random, n: int, child: CrowdChild) -> dict[str, Any]:
    identity = child.identity
    la, prefix, _ = rng.choice(LOCAL_AUTHORITIES)
    identifiers = [{"scheme": "la_reference", "value": f"{prefix}-C{n:07d}"}]
    if identity.country != "uk" and rng.random() < 0.6:
        identifiers.append({"scheme": "home_office", "value": f"HO-C{n:08d}"})
    profile: dict[str, Any] = {
        "profile_id": f"crowd-{n:06d}",
        "identifiers": identifiers,
        "given_names": child.given,
        "family_name": child.family,
        "sex": identity.sex,
        "nationality": COUNTRIES[identity.country]["nationality"][0],  # type: ignore[index]
        "risk_level": rng.choices(("high", "medium", "low"), (5, 4, 1))[0],
        "responsible_local_authority": la,
        "police_force": "Kent Police" if la == "Kent" else "Metropolitan Police Service",
    }
    dob = record_dob(rng, identity.dob, _dob_kind(rng, identity.country))
    if dob is not None:
        profile["date_of_birth"] = dob
    short = [s for g in identity.given for s in SHORT_FORMS.get(unidecode(canonical(g)).lower(), ())]
    if short and rng.random() < 0.2:  # a known short form recorded as an alias
        profile["aliases"] = [rng.choice(short)]
    if rng.random() < 0.05:
        profile["phone_numbers"] = [_phone(rng)]
    return profile


def twin_of(rng: random.Random, identity: Identity) -> Identity:
    """Another child with the very same name and sex, born within a month."""
    return Identity(
        identity.country, identity.sex, identity.given, identity.family, identity.dob + timedelta(days=rng.randint(-30, 30))
    )


# --- reports about crowd profiles --------------------------------------------------------------------

CROWD_NAME_VARIATIONS = (
    "exact",
    "diminutive",
    "prefix",
    "joined",
    "invisible",
    "transliterated",
    "typo",
    "swapped",
    "middle_dropped",
)


def _short_form(rng: random.Random, word: str) -> str | None:
    forms = SHORT_FORMS.get(unidecode(word).lower())
    return rng.choice(forms) if forms else None


def _split_prefix(word: str) -> str | None:
    low = unidecode(word).lower()
    for prefix, written in PREFIX_SPLITS.items():
        if low.startswith(prefix) and len(low) - len(prefix) >= 3:
            return f"{written} {word[len(prefix) :].capitalize()}"
    return None


def _hide(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    at = rng.randrange(1, len(word) - 1)
    return word[:at] + rng.choice(INVISIBLE) + word[at:]


def crowd_report_name(rng: random.Random, child: CrowdChild, kind: str) -> tuple[str, str, str]:
    """(given, family, variation actually applied) for a report about this profiled child."""
    identity = child.identity
    given, family = child.given.split(" "), child.family.split(" ")
    if kind == "diminutive":
        options = [i for i, g in enumerate(given) if _short_form(rng, g)]
        if options:
            i = rng.choice(options)
            short = _short_form(rng, given[i])
            assert short is not None
            given[i] = short
            return " ".join(given), " ".join(family), kind
        kind = "exact"
    if kind == "prefix":
        options = [i for i, g in enumerate(given) if _split_prefix(g) or _short_form(rng, g)]
        if options:
            i = rng.choice(options)
            split = _split_prefix(given[i])
            given[i] = split if split and rng.random() < 0.5 else (_short_form(rng, given[i]) or split or given[i])
            return " ".join(given), " ".join(family), kind
        kind = "exact"
    if kind == "joined" and len(given) > 1:
        return "".join(given[:1] + [g.lower() for g in given[1:]]), " ".join(family), kind
    if kind == "invisible":
        target = rng.randrange(len(given) + len(family))
        if target < len(given):
            given[target] = _hide(rng, given[target])
        else:
            family[target - len(given)] = _hide(rng, family[target - len(given)])
        return " ".join(given), " ".join(family), kind
    if kind == "transliterated":
        i = rng.randrange(len(identity.family))
        family[i] = variant(rng, identity.family[i], family[i], identity.country)
        return " ".join(given), " ".join(family), kind
    if kind == "typo":
        i = rng.randrange(len(family))
        changed = typo(rng, unidecode(family[i]))
        if changed != family[i]:
            family[i] = changed
            return " ".join(given), " ".join(family), kind
    if kind == "swapped":
        return " ".join(family), " ".join(given), kind
    if kind == "middle_dropped" and len(given) > 1:
        return given[-1], " ".join(family), kind
    return " ".join(given), " ".join(family), "exact"


def _report_dob(rng: random.Random, child: CrowdChild, kind: str) -> dict[str, Any] | None:
    if kind == "same":
        assert child.profile is not None
        return child.profile.get("date_of_birth")
    return record_dob(rng, child.identity.dob, kind)


# --- name classes and twins ------------------------------------------------------------------------


def _classes() -> dict[str, str]:
    """Every spelling in names.py (and every short form here) -> the name it is a spelling of."""
    out: dict[str, str] = {}
    for data in COUNTRIES.values():
        tables: list[Table] = [data["family"]]  # type: ignore[list-item]
        for kind in ("given", "middle"):
            if kind in data:
                tables += list(data[kind].values())  # type: ignore[attr-defined]
        for table in tables:
            for _, spellings in table:
                for s in spellings:
                    out.setdefault(unidecode(s).lower(), unidecode(spellings[0]).lower())
    for full, shorts in SHORT_FORMS.items():
        for s in shorts:
            out.setdefault(s.lower(), out.get(full, full))
    return out


CLASS_OF = _classes()
_VISIBLE = str.maketrans("", "", "".join(INVISIBLE))


def name_class(given: str, family: str | None) -> tuple[str, ...]:
    words = unidecode(f"{given} {family or ''}".translate(_VISIBLE)).lower().replace("-", " ").split()
    return tuple(sorted(CLASS_OF.get(w, w) for w in words))


def _dob_span(dob: dict[str, Any] | None) -> tuple[date, bool] | None:
    if not dob:
        return None
    return date.fromisoformat(dob["value"]), bool(dob.get("estimated")) or "earliest" in dob


class Twins:
    """Which children have a close namesake twin among the profiles (other than their own)."""

    def __init__(self, profiles: list[dict[str, Any]]) -> None:
        self.by_name: dict[tuple[tuple[str, ...], str], list[tuple[str, tuple[date, bool] | None]]] = defaultdict(list)
        for p in profiles:
            key = (name_class(p["given_names"], p.get("family_name")), p["sex"])
            self.by_name[key].append((p["profile_id"], _dob_span(p.get("date_of_birth"))))

    def has_twin(self, given: str, family: str | None, sex: str, dob: dict[str, Any] | None, own: str | None) -> bool:
        mine = _dob_span(dob)
        sexes = (sex,) if sex in SEXES else SEXES
        for s in sexes:
            for profile_id, theirs in self.by_name.get((name_class(given, family), s), []):
                if profile_id == own:
                    continue
                if mine is None or theirs is None:
                    return True
                window = 366 if mine[1] or theirs[1] else 31
                if abs((mine[0] - theirs[0]).days) <= window:
                    return True
        return False


# --- the crowd ----------------------------------------------------------------------------------------


def _labelled_children(
    reports: list[dict[str, Any]], profiles: dict[str, dict[str, Any]], labels: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """What a twin copies for each labelled report: its profile's name, sex and date (positives) or the report's."""
    out = []
    for report in reports:
        label = labels.get(report["event_id"])
        if label is None:
            continue
        source = profiles.get(label["profile_id"]) if label.get("profile_id") else None
        child = report["child"]
        if source is not None:
            out.append(
                {
                    "given": source["given_names"],
                    "family": source.get("family_name"),
                    "sex": source["sex"],
                    "dob": source.get("date_of_birth"),
                    "nationality": source.get("nationality"),
                }
            )
        elif child.get("family_name") and child.get("sex") in SEXES:
            out.append(
                {
                    "given": child["given_names"],
                    "family": child.get("family_name"),
                    "sex": child["sex"],
                    "dob": child.get("date_of_birth"),
                    "nationality": child.get("nationality"),
                }
            )
    return out


def _twin_profile(rng: random.Random, n: int, base: dict[str, Any]) -> dict[str, Any]:
    """A crowd profile that is a true namesake twin of a labelled child."""
    la, prefix, _ = rng.choice(LOCAL_AUTHORITIES)
    profile: dict[str, Any] = {
        "profile_id": f"crowd-{n:06d}",
        "identifiers": [{"scheme": "la_reference", "value": f"{prefix}-C{n:07d}"}],
        "given_names": base["given"],
        "family_name": base["family"],
        "sex": base["sex"],
        "risk_level": rng.choice(("high", "medium", "low")),
        "responsible_local_authority": la,
        "police_force": "Metropolitan Police Service",
    }
    if base.get("nationality"):
        profile["nationality"] = base["nationality"]
    dob = base.get("dob")
    if dob:
        value = date.fromisoformat(dob["value"])
        if dob.get("estimated") or rng.random() < 0.4:
            profile["date_of_birth"] = {"value": f"{value.year}-01-01", "estimated": True}
        else:
            shifted = value + timedelta(days=rng.randint(-30, 30))
            profile["date_of_birth"] = {"value": min(shifted, EPOCH.date() - timedelta(days=3650)).isoformat()}
    return profile


def generate_crowd(
    size: int,
    seed: int,
    reports: list[dict[str, Any]],
    profiles: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    n_reports: int = CROWD_REPORTS,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(crowd profiles, crowd reports, labels for every report — the given ones with `twin` set too)."""
    rng = random.Random(seed)
    by_id = {p["profile_id"]: p for p in profiles}
    by_event = {label["event_id"]: label for label in labels}
    crowd: list[dict[str, Any]] = []
    n = 0
    for base in _labelled_children(reports, by_id, by_event):
        if rng.random() < TWIN_SHARE and len(crowd) < size:
            n += 1
            crowd.append(_twin_profile(rng, n, base))
    children: list[CrowdChild] = []
    while len(crowd) < size:
        n += 1
        identity = crowd_identity(rng)
        given, family = _written(rng, identity)
        child = CrowdChild(identity, given, family)
        child.profile = crowd_profile(rng, n, child)
        crowd.append(child.profile)
        children.append(child)
        if rng.random() < TWIN_SHARE / 4 and len(crowd) < size:
            n += 1
            twin = CrowdChild(twin_of(rng, identity), given, family)
            twin.profile = crowd_profile(rng, n, twin)
            crowd.append(twin.profile)
    new_reports, new_labels = _crowd_reports(rng, children, min(n_reports, len(children)))
    twins = Twins(profiles + crowd)
    every = {**by_id, **{c["profile_id"]: c for c in crowd}}
    out_labels = []
    for report, label in zip(reports + new_reports, [by_event.get(r["event_id"]) for r in reports] + new_labels, strict=True):
        if label is None:
            continue
        label = dict(label)
        own = label.get("profile_id")
        if own:
            p = every[own]
            label["twin"] = twins.has_twin(p["given_names"], p.get("family_name"), p["sex"], p.get("date_of_birth"), own)
        else:
            child = report["child"]
            label["twin"] = twins.has_twin(
                child["given_names"], child.get("family_name"), child.get("sex", "unknown"), child.get("date_of_birth"), None
            )
        out_labels.append(label)
    return crowd, new_reports, out_labels


def _crowd_reports(rng: random.Random, children: list[CrowdChild], k: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    reports: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for i, child in enumerate(rng.sample(children, k), start=1):
        kind = rng.choice(CROWD_NAME_VARIATIONS)
        given, family, applied = crowd_report_name(rng, child, kind)
        dob_kind = rng.choices(("same", "exact", "estimated", "disputed", "missing"), (3, 2, 3, 1, 1))[0]
        report = make_report(rng, 50_000 + i, child.identity, given, family, [], _report_dob(rng, child, dob_kind))
        report["event_id"] = f"crowd-evt-{i:05d}"
        variations = [applied, f"dob:{dob_kind}"]
        link = None
        assert child.profile is not None
        if child.profile.get("phone_numbers") and rng.random() < 0.6:
            report["circumstances"]["phone_numbers"] = [written_phone(rng, child.profile["phone_numbers"][0])]
            link = child.profile["profile_id"]
            variations.append("phone_format")
        reports.append(report)
        labels.append(
            {
                "event_id": report["event_id"],
                "profile_id": child.profile["profile_id"],
                "category": "crowd:true",
                "variations": variations,
                "link_profile": link,
            }
        )
    for i in range(k):
        identity = crowd_identity(rng)
        given, family = _written(rng, identity)
        dob_kind = rng.choices(("exact", "estimated", "disputed"), (5, 3, 1))[0]
        report = make_report(rng, 60_000 + i, identity, given, family, [], record_dob(rng, identity.dob, dob_kind))
        report["event_id"] = f"crowd-neg-{i:05d}"
        reports.append(report)
        labels.append(
            {
                "event_id": report["event_id"],
                "profile_id": None,
                "category": "crowd:negative",
                "variations": [f"dob:{dob_kind}"],
                "link_profile": None,
            }
        )
    return reports, labels


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    profiles, reports, labels = (_read(args.data / f) for f in ("profiles.jsonl", "reports.jsonl", "labels.jsonl"))
    crowd, new_reports, new_labels = generate_crowd(args.size, args.seed, reports, profiles, labels)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (
        ("profiles.jsonl", profiles + crowd),
        ("reports.jsonl", reports + new_reports),
        ("labels.jsonl", new_labels),
    ):
        (args.out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (args.out / "SEED").write_text(f"{args.seed} (crowd {args.size})\n")
    print(f"{len(crowd)} crowd profiles, {len(new_reports)} crowd reports -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
