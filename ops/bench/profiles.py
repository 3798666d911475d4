"""Synthetic risk profiles and placement reports for the pipeline benchmarks (deterministic per seed).

Names come from the evaluation set's tables (ops/eval/names.py), weighted as referrals are — so the
very common names (Nguyen, Mohammed…) crowd the matcher's blocking keys at 1M profiles the way real
data would. Everything is invented: the identifiers use a `B` series no real record has, phones are
Ofcom drama numbers, email domains end in .example.

Two kinds of report:
* **matched** — a profiled child reported missing: the profile's own names, date of birth and Home
  Office reference, placed in the profile's local authority, with no circumstantial links. The
  matcher decides MATCH through the shared identifier, so the fan-out is what routing gives for
  that profile (computed independently by `ops.bench.expect`).
* **unprofiled** — a child with no profile and an invented name: parsed, blocked, decided no match,
  nothing sent (see `unprofiled_report` for why the name is invented).

    .venv/bin/python -m ops.bench.profiles --count 1000 > profiles.jsonl    # to inspect them
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from ops.eval.names import COUNTRIES, COUNTRY_WEIGHTS, INDICATORS, LOCAL_AUTHORITIES, PLACES, Table

# The local authorities the shipped routing covers with an emergency duty team, so each matched report
# reaches at least three recipients (the duty team's two contacts and the child's social worker, then
# police by risk); see config/routing.yaml.
ROUTED = [la for la in LOCAL_AUTHORITIES if la[0] in ("Harrow", "Brent", "Hillingdon", "Hounslow", "Hackney", "Tower Hamlets")]


class _Weighted:
    """Fast weighted choice over a names table (cumulative weights, one random() per pick)."""

    def __init__(self, table: Table) -> None:
        self.values = [spellings[0] for _, spellings in table]
        self.cum = list(itertools.accumulate(w for w, _ in table))

    def pick(self, rng: random.Random) -> str:
        import bisect

        return self.values[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


class _Tables:
    def __init__(self) -> None:
        self.countries = list(COUNTRY_WEIGHTS)
        self.country_cum = list(itertools.accumulate(COUNTRY_WEIGHTS[c] for c in self.countries))
        self.family = {c: _Weighted(data["family"]) for c, data in COUNTRIES.items()}  # type: ignore[arg-type]
        self.given = {
            (c, sex): _Weighted(data["given"][sex])  # type: ignore[index]
            for c, data in COUNTRIES.items()
            for sex in ("male", "female")
        }
        self.nationality = {c: str(data["nationality"][0]) for c, data in COUNTRIES.items()}  # type: ignore[index]

    def country(self, rng: random.Random) -> str:
        import bisect

        return self.countries[bisect.bisect_right(self.country_cum, rng.random() * self.country_cum[-1])]


_TABLES = _Tables()


def _identity(rng: random.Random) -> dict[str, Any]:
    country = _TABLES.country(rng)
    sex = "male" if rng.random() < 0.6 else "female"
    given = _TABLES.given[(country, sex)].pick(rng)
    if rng.random() < 0.3:
        given = f"{given} {_TABLES.given[(country, sex)].pick(rng)}"
    dob = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 8 * 365))
    return {
        "given_names": given,
        "family_name": _TABLES.family[country].pick(rng),
        "sex": sex,
        "nationality": _TABLES.nationality[country],
        "dob": dob,
        "estimated": country != "uk" and rng.random() < 0.5,
    }


def _dob(identity: dict[str, Any]) -> dict[str, Any]:
    dob: date = identity["dob"]
    if identity["estimated"]:
        return {"value": f"{dob.year}-01-01", "estimated": True}
    return {"value": dob.isoformat()}


def profile(n: int, seed: int = 1) -> dict[str, Any]:
    """Profile number `n` (0-based) of the synthetic set for `seed`: the same every time."""
    rng = random.Random(seed * 1_000_003 + n)
    who = _identity(rng)
    la, prefix, _ = ROUTED[n % len(ROUTED)] if rng.random() < 0.9 else rng.choice(LOCAL_AUTHORITIES)
    return {
        "profile_id": f"bench-{n:07d}",
        "identifiers": [
            {"scheme": "la_reference", "value": f"{prefix}-B{n:07d}"},
            {"scheme": "home_office", "value": f"HO-B{n:07d}"},
        ],
        "given_names": who["given_names"],
        "family_name": who["family_name"],
        "date_of_birth": _dob(who),
        "sex": who["sex"],
        "nationality": who["nationality"],
        "risk_level": rng.choices(("high", "medium", "low"), (5, 4, 1))[0],
        "indicators": rng.sample(INDICATORS, rng.randint(0, 2)),
        "places_of_concern": rng.sample(PLACES, rng.randint(0, 1)),
        "responsible_local_authority": la,
        "police_force": "Kent Police" if la == "Kent" else "Metropolitan Police Service",
        "social_worker": {"name": f"Social Worker {n}", "email": f"sw{n}@{prefix.lower()}.gov.example", "phone": "+447700900300"},
    }


def profiles(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield profile(n, seed)


def _report(event_id: str, reference: str, la: str, child: dict[str, Any], now: datetime, rng: random.Random) -> dict[str, Any]:
    prefix = next((p for name, p, _ in LOCAL_AUTHORITIES if name == la), "HAR")
    postcode = next((pc for name, _, pc in LOCAL_AUTHORITIES if name == la), "HA1")
    last_seen = now - timedelta(minutes=rng.randint(5, 40))
    return {
        "event_id": event_id,
        "type": "left_placement",
        "occurred_at": last_seen.isoformat(),
        "reported_at": now.isoformat(),
        "placement": {
            "id": f"plc-{prefix.lower()}-{rng.randint(1, 40):02d}",
            "name": f"{la} children's home {rng.randint(1, 9)}",
            "local_authority": la,
            "postcode": f"{postcode} 9ZZ",
            "placed_at": (now - timedelta(days=rng.randint(1, 30))).isoformat(),
        },
        "child": {"reference": reference, **child},
        "circumstances": {"last_seen_at": last_seen.isoformat(), "last_seen_place": "front door", "previous_missing_episodes": 1},
        "reporter": {"name": "Duty carer", "role": "residential care worker", "callback_phone": "+447700900401"},
    }


def matched_report(p: dict[str, Any], event_id: str, now: datetime, rng: random.Random) -> dict[str, Any]:
    """A report about the profiled child `p` (shares its Home Office reference)."""
    child = {
        "identifiers": [i for i in p["identifiers"] if i["scheme"] == "home_office"],
        "given_names": p["given_names"],
        "family_name": p["family_name"],
        "date_of_birth": p["date_of_birth"],
        "sex": p["sex"],
        "nationality": p["nationality"],
    }
    reference = f"{p['identifiers'][0]['value']}-{event_id}"  # one child per report: each opens its own incident
    return _report(event_id, reference, p["responsible_local_authority"], child, now, rng)


_SYLLABLES = ("zor", "vex", "quil", "brax", "dun", "kel", "mir", "thaw", "yss", "orv", "pell", "gant")


def _invented(rng: random.Random, syllables: int) -> str:
    """A name nobody in the tables has (invented syllables)."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


def unprofiled_report(event_id: str, now: datetime, rng: random.Random) -> dict[str, Any]:
    """A child with no profile and an invented name, so the matcher finds no candidate worth a
    possible match: the report is parsed, blocked and decided no match, and nothing is sent.

    (Children drawn from the same name tables are another matter: with an invented family name but a
    common given name and a close date of birth, the matcher calls a possible match for 17 % of them
    at 10k profiles and 38 % at 100k — see docs/performance.md. The matched reports, whose names are
    the common ones, carry the realistic candidate-search cost.)"""
    who = _identity(rng)
    who["estimated"] = False
    child = {
        "given_names": _invented(rng, 2),
        "family_name": _invented(rng, 3),
        "date_of_birth": _dob(who),
        "sex": who["sex"],
        "nationality": who["nationality"],
    }
    la = rng.choice(ROUTED)[0]
    return _report(event_id, f"UNP-{event_id}", la, child, now, rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.profiles", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out = sys.stdout
    for p in profiles(args.count, args.seed):
        out.write(json.dumps(p, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
