"""`crucial match` and `crucial evaluate`: the worker's matcher and grader, offline.

    crucial match --profiles P.jsonl --events E.jsonl [--out decisions.jsonl]
        one JSON decision per event: event id, decision, profile id, score, explanation, priority,
        reasons, circumstantial links, and whether the worker would open an incident — for tuning,
        audits and replays. Profiles may be JSON Lines or CSV. Bad rows are reported on stderr.

    crucial evaluate [--data ops/eval/data] [--data var/eval-seed2] [--misses]
        precision and recall per decision level on a labelled set (ops/eval/generate.py makes one).

    crucial evaluate --crowd 10000 [--crowd-seed 11]
        the same among a crowd of realistic namesake profiles (ops/eval/crowd.py, Zipf names within
        nationality, true namesake twins) with reports of its own; recall, precision, false-match
        and possible-match rates split by whether the child has a close namesake twin, and
        candidate-generation recall alone.

Both run alerts.assessment.assess — exactly what the worker's triage calls — with risk.yaml from
--config. The decisions carry names (explanations); they are outputs, not logs: keep them where
child data may be kept.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from alerts.assessment import assess
from alerts.config import Risk, load_config
from alerts.errors import RejectedInput
from alerts.evaluation import Label, crowd_checks, crowd_rows, evaluate, read_labels, render, render_crowd
from alerts.intake import parse_event, parse_profile
from alerts.matching import ProfileIndex
from alerts.model import PlacementEvent
from alerts.profile_files import read_profiles

REPO_ROOT = Path(__file__).resolve().parents[2]


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    match = sub.add_parser(
        "match",
        parents=[common],
        help="match and grade placement events against profiles, offline: one JSON decision per event",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    match.add_argument("--profiles", required=True, help="risk profiles: JSON Lines or CSV")
    match.add_argument("--events", required=True, help="placement events: JSON Lines (or - for stdin)")
    match.add_argument("--out", default="-", help="where to write the decisions (default: stdout)")
    match.set_defaults(func=cmd_match)

    ev = sub.add_parser(
        "evaluate",
        parents=[common],
        help="precision and recall of the matcher per decision level on a labelled set",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument(
        "--data",
        action="append",
        help="a directory with profiles.jsonl, reports.jsonl, labels.jsonl; repeat for several (default: ops/eval/data)",
    )
    ev.add_argument("--misses", action="store_true", help="list the event ids the matcher got wrong")
    ev.add_argument("--crowd", type=int, default=0, help="add this many crowd profiles (ops/eval/crowd.py) and its reports")
    ev.add_argument("--crowd-seed", type=int, default=11, help="the crowd generator's seed (default 11)")
    ev.set_defaults(func=cmd_evaluate)


def load_index(source: str, index: ProfileIndex, err: IO[str]) -> tuple[int, int]:
    """Load the good rows of a profiles file into `index`; report the bad ones. (loaded, rejected)."""
    loaded = rejected = 0
    for row in read_profiles(source, Path(source).read_bytes()):
        if row.profile is None:
            rejected += 1
            for reason in row.reasons:
                print(f"{row.where}: {reason}", file=err)
            continue
        index.upsert(row.profile)
        loaded += 1
    return loaded, rejected


def read_events(source: str, err: IO[str]) -> tuple[list[PlacementEvent], int]:
    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    events, rejected = [], 0
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(line))
        except RejectedInput as exc:
            rejected += 1
            for reason in exc.reasons:
                print(f"{source}: row {number}: {reason}", file=err)
    return events, rejected


def decision_of(event: PlacementEvent, index: ProfileIndex, risk: Risk) -> dict[str, Any]:
    assessed = assess(event, index, risk)
    m = assessed.match
    return {
        "event_id": event.event_id,
        "decision": m.decision.value,
        "profile_id": m.profile_id,
        "score": m.score,
        "explanation": m.explanation,
        "priority": assessed.priority.value,
        "reasons": assessed.reasons,
        "links": [link.model_dump(mode="json") for link in m.links],
        "opens_incident": assessed.opens_incident,
    }


def cmd_match(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    index = ProfileIndex(config.risk.matching, config.risk.links)
    _, bad_profiles = load_index(args.profiles, index, sys.stderr)
    events, bad_events = read_events(args.events, sys.stderr)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for event in events:
            out.write(json.dumps(decision_of(event, index, config.risk), ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(
        f"matched {len(events)} event(s) against {len(index)} profile(s); rejected {bad_profiles} profile row(s), {bad_events} event(s)",
        file=sys.stderr,
    )
    return 1 if bad_profiles or bad_events else 0


def _crowd_module() -> Any:
    """ops/eval/crowd.py: a script of the repository's, not part of the installed package."""
    path = REPO_ROOT / "ops" / "eval" / "crowd.py"
    if not path.exists():
        raise SystemExit(f"--crowd needs the repository's {path} (run from a source checkout)")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("crowd", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crowd"] = module
    spec.loader.exec_module(module)
    return module


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _add_crowd(
    directory: Path, index: ProfileIndex, events: list[PlacementEvent], size: int, seed: int
) -> tuple[list[PlacementEvent], dict[str, Label], float]:
    """Add the crowd's profiles and reports; the labels of every report, with `twin` set. Seconds to build."""
    began = time.perf_counter()
    crowd = _crowd_module()
    profiles, reports, labels = (_rows(directory / name) for name in ("profiles.jsonl", "reports.jsonl", "labels.jsonl"))
    extra, new_reports, all_labels = crowd.generate_crowd(size, seed, reports, profiles, labels)
    for row in extra:
        index.upsert(parse_profile(json.dumps(row)))
    events = events + [parse_event(json.dumps(row)) for row in new_reports]
    text = "".join(json.dumps(label) + "\n" for label in all_labels)
    return events, read_labels(text), time.perf_counter() - began


def cmd_evaluate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    ok = True
    for directory in [Path(d) for d in (args.data or [str(REPO_ROOT / "ops" / "eval" / "data")])]:
        index = ProfileIndex(config.risk.matching, config.risk.links)
        _, rejected = load_index(str(directory / "profiles.jsonl"), index, sys.stderr)
        events, bad = read_events(str(directory / "reports.jsonl"), sys.stderr)
        labels = read_labels((directory / "labels.jsonl").read_text(encoding="utf-8"))
        built = 0.0
        if args.crowd:
            events, labels, built = _add_crowd(directory, index, events, args.crowd, args.crowd_seed)
        began = time.perf_counter()
        result = evaluate(index, events, labels, config.risk, candidates=bool(args.crowd))
        took = time.perf_counter() - began
        seed = (directory / "SEED").read_text().strip() if (directory / "SEED").exists() else "?"
        crowd = f", crowd {args.crowd} seed {args.crowd_seed} built in {built:.0f} s" if args.crowd else ""
        title = f"{directory} (seed {seed}; {len(index)} profiles{crowd}; {took * 1000 / max(1, len(events)):.2f} ms per report)"
        print(render(result, title))
        if args.crowd:
            print()
            print(render_crowd(result, f"among the crowd: {title}"))
            ok = ok and all(met for _, _, met in crowd_checks(crowd_rows(result)))
        else:
            ok = ok and result.meets_targets
        if args.misses:
            print("\n".join(["misses:", *result.misses()]) if result.misses() else "misses: none")
        print()
        ok = ok and not rejected and not bad
    return 0 if ok else 1
