"""Does another estimate of the chance-agreement rule's E move the recall / possible-rate frontier?

    .venv/bin/python ops/eval/chance_variants.py --crowd-seed 11 --variants base,near,date --bounds 3,4,6

Runs the labelled set plus a crowd (ops/eval/crowd.py) as `crucial evaluate --crowd` does, once per
variant and `max_chance_agreements` bound, and prints the crowd figures. A variant changes only how E
(profiles expected to agree with the report as well as the best by chance, alerts/matching/rules.py
"chance agreement") is estimated, or, for "range", how one class of dates is paid; nothing here is
used by the matcher. docs/matching.md "Round 5" has the figures and what each variant stands for:

- base: the matcher as it is.
- near: a near spelling whose two spellings sound differently also agrees by chance with every profile
  carrying the reported spelling: u is the share of both sounds, not of the profile's alone.
- date: u of the date estimated from the index itself (splink's u from random pairs): E scaled by the
  share of the nationality's profiles whose date agrees with the report's at least as well, over
  the model's 2 ** -points.
- nomain: the bonus for the profile's own name (`main_name`) left out of E (it is not chance evidence).
- uncap: the names' bits in E not capped at `name_frequency.max_points`.
- weakest: E counted at the level of the weakest profile counted among those that agree (k), so k
  and E count the same set.
- range: two identical disputed ranges (both bounds to the day) paid as the same exact date.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from alerts.config import load_config  # noqa: E402
from alerts.evaluation import crowd_rows, evaluate, read_labels  # noqa: E402
from alerts.identity import Dob, unpack_dob  # noqa: E402
from alerts.matching import ProfileIndex, dates, scoring  # noqa: E402
from alerts.matching import index as index_module  # noqa: E402
from alerts.matching.keys import _frequency_key, frequency_group  # noqa: E402
from streams.cli.match import _add_crowd, load_index, read_events  # noqa: E402

Factor = Callable[[ProfileIndex, Any, Any, Any, list[Any]], float]


def _group(index: ProfileIndex, best: Any) -> tuple[str, str]:
    """(nationality, sex) of the best candidate's record."""
    record = index._records[best.slot]
    assert record is not None
    return record[2][2:] or "*", record[2][0]


def _bits(index: ProfileIndex, best: Any, probe: Any, tuned: Any) -> Callable[[str], float]:
    nationality, sex = _group(index, best)
    return index._bits(frequency_group(nationality, sex if sex == probe.sex else ""), tuned)


def _share_of(fraction: float) -> float:
    return max(0.0, (fraction - 0.7) / 0.3)


def near(index: ProfileIndex, best: Any, probe: Any, tuned: Any, scored: list[Any]) -> float:
    if best.name is None:
        return 1.0
    bits, extra = _bits(index, best, probe, tuned), 0.0
    for a, b, similarity in best.name.pairs:
        if 0 < similarity < 1 and len(a) > 1 and _frequency_key(a) != _frequency_key(b):
            both = -math.log2(2 ** -bits(_frequency_key(a)) + 2 ** -bits(_frequency_key(b)))
            extra += max(0.0, (bits(_frequency_key(b)) - both) * _share_of(similarity))
    return float(2**extra)


class DateShares:
    """The dates of each nationality's profiles, to count those agreeing with a report's date."""

    def __init__(self, index: ProfileIndex) -> None:
        self.by_nationality: defaultdict[str, Counter[int]] = defaultdict(Counter)
        for record in index._records:
            if record is not None:
                self.by_nationality[record[2][2:] or "*"][record[1]] += 1

    def factor(self, index: ProfileIndex, best: Any, probe: Any, tuned: Any, scored: list[Any]) -> float:
        record = index._records[best.slot]
        if probe.dob is None or record is None or not record[1]:
            return 1.0
        settings = tuned.settings
        points, _ = dates.dob_evidence(probe.dob, unpack_dob(record[1]), settings.weights, settings.dob)
        counts = self.by_nationality[_group(index, best)[0]]
        agree = sum(
            n
            for packed, n in counts.items()
            if packed and dates.dob_evidence(probe.dob, unpack_dob(packed), settings.weights, settings.dob)[0] >= points - 1e-9
        )
        return agree / sum(counts.values()) / 2**-points


def nomain(index: ProfileIndex, best: Any, probe: Any, tuned: Any, scored: list[Any]) -> float:
    own = best.name is not None and best.name.full > 0 and best.name.profile_form == 0
    return float(2**tuned.settings.weights.main_name) if own else 1.0


def uncap(index: ProfileIndex, best: Any, probe: Any, tuned: Any, scored: list[Any]) -> float:
    if best.name is None:
        return 1.0
    nationality, sex = _group(index, best)
    group = frequency_group(nationality, sex if sex == probe.sex else "") or "*"
    frequency, bits, extra = tuned.settings.name_frequency, _bits(index, best, probe, tuned), 0.0
    for _, b, similarity in best.name.pairs:
        if similarity > 0 and len(b) > 1:
            key = _frequency_key(b)
            seen = index._sound_count[(group, key)] + frequency.prior_weight * frequency.prior_share
            share = seen / (index._profiles_of[group] + frequency.prior_weight)
            extra += (-math.log2(share) - bits(key)) * _share_of(similarity)
    return float(2**-extra)


def weakest(index: ProfileIndex, best: Any, probe: Any, tuned: Any, scored: list[Any]) -> float:
    return float(2 ** (best.points - min(e.points for e in scored))) if scored else 1.0


def _same_range(original: Callable[..., tuple[float, str]]) -> Callable[..., tuple[float, str]]:
    def evidence(ev: Dob | None, pr: Dob | None, weights: Any, tolerance: Any) -> tuple[float, str]:
        if ev is not None and pr is not None and ev.lo != ev.hi and (ev.lo, ev.hi, ev.value) == (pr.lo, pr.hi, pr.value):
            return weights.dob_exact, dates.EXACT
        return original(ev, pr, weights, tolerance)

    return evidence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO / "ops" / "eval" / "data"))
    parser.add_argument("--config", default=str(REPO / "config"))
    parser.add_argument("--crowd", type=int, default=10_000)
    parser.add_argument("--crowd-seed", type=int, default=11)
    parser.add_argument("--variants", default="base")
    parser.add_argument("--bounds", default="6")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    directory = Path(args.data)
    index = ProfileIndex(config.risk.matching, config.risk.links)
    load_index(str(directory / "profiles.jsonl"), index, sys.stderr)
    events, _ = read_events(str(directory / "reports.jsonl"), sys.stderr)
    labels = read_labels((directory / "labels.jsonl").read_text(encoding="utf-8"))
    events, labels, _ = _add_crowd(directory, index, events, args.crowd, args.crowd_seed)
    factors: dict[str, Factor] = {
        "near": near,
        "date": DateShares(index).factor,
        "nomain": nomain,
        "uncap": uncap,
        "weakest": weakest,
    }
    chosen: dict[str, Any] = {"factor": None}
    original_case, original_dob = index_module.ProfileIndex._case, scoring.dob_evidence

    def case(self: ProfileIndex, best: Any, scored: list[Any], search: Any) -> Any:
        found = original_case(self, best, scored, search)
        factor = chosen["factor"]
        if factor is None:
            return found
        counted = [best] + [e for e in scored if self._ids[e.slot] in {r.profile_id for r in found.runners}]
        return dataclasses.replace(
            found, chance_agreements=found.chance_agreements * factor(self, best, search.probe, search.tuned, counted)
        )

    index_module.ProfileIndex._case = case  # type: ignore[method-assign]
    try:
        _sweep(args, config, index, events, labels, factors, chosen, original_dob)
    finally:  # the matcher as it was, for whoever imported this
        index_module.ProfileIndex._case = original_case  # type: ignore[method-assign]
        scoring.dob_evidence = original_dob
    return 0


def _sweep(
    args: Any,
    config: Any,
    index: ProfileIndex,
    events: Any,
    labels: Any,
    factors: dict[str, Factor],
    chosen: dict[str, Any],
    original_dob: Any,
) -> None:
    for variant in args.variants.split(","):
        chosen["factor"] = factors.get(variant)
        scoring.dob_evidence = _same_range(original_dob) if variant == "range" else original_dob
        for bound in (float(b) for b in args.bounds.split(",")):
            matching = config.risk.matching.model_copy(update={"max_chance_agreements": bound})
            everyone, no_twin, _ = crowd_rows(
                evaluate(index, events, labels, config.risk.model_copy(update={"matching": matching}))
            )
            print(
                f"seed {args.crowd_seed} {variant:8s} bound {bound:4.1f}: recall {everyone.recall_at_possible:.3f}"
                f" no twin {no_twin.recall_at_possible:.3f}  precision {everyone.precision_at_match:.3f}"
                f"  false match {everyone.false_match_rate * 100:.1f} %  possible, no twin {no_twin.possible_rate * 100:.1f} %",
                flush=True,
            )


if __name__ == "__main__":
    raise SystemExit(main())
