"""One vocabulary of indicators: grading and routing read the same ids, free text maps exactly or is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.config import Config, load_config
from alerts.grading import grade
from alerts.indicators import Indicators, indicators_of, phrase_key, unmapped_counts
from alerts.intake import parse_profile
from alerts.model import RiskProfile
from alerts.routing import explain_rule
from streams.cli.main import main
from tests.support import REPO, sample_profiles
from tests.unit.test_grading import AFTERNOON, MATCHED, event
from tests.unit.test_routing import profile, routes_for


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config")


def with_indicators(*texts: str) -> RiskProfile:
    return profile(indicators=list(texts))


def graded_for_indicators(config: Config, prof: RiskProfile) -> bool:
    _, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01"), prof, MATCHED, config.risk.grading)
    return any(r.startswith("indicators on the profile") for r in reasons)


def trafficking_routed(config: Config, prof: RiskProfile) -> bool:
    agencies = {r.recipient.agency_id for r in routes_for(config, prof=prof)}
    return "modern-slavery-referral" in agencies


@pytest.mark.parametrize("wording", ["child sexual exploitation", "CSE", "Sexual-Exploitation", "  sexually  exploited "])
def test_the_agencies_wordings_of_sexual_exploitation_reach_the_referral_point_and_the_guardian(
    config: Config, wording: str
) -> None:
    prof = with_indicators(wording)
    agencies = {r.recipient.agency_id for r in routes_for(config, prof=prof)}
    assert {"modern-slavery-referral", "ictg-london"} <= agencies
    assert graded_for_indicators(config, prof)
    _, reasons = grade(event(seen=AFTERNOON, dob="2010-01-01"), prof, MATCHED, config.risk.grading)
    assert "indicators on the profile: sexual exploitation" in reasons, "said in the vocabulary's words"


@pytest.mark.parametrize(
    "text",
    [
        "no sexual exploitation concerns",  # contains a label: never a match by substring
        "cannabis cultivation ruled out",
        "trafficker unknown",
        "exploitation",  # contained in several labels
    ],
)
def test_a_text_that_only_contains_or_is_contained_in_a_wording_maps_to_nothing(config: Config, text: str) -> None:
    prof = with_indicators(text)
    assert indicators_of(config.indicators).of_profile(prof).unmapped == (text,)
    assert not graded_for_indicators(config, prof)
    assert not trafficking_routed(config, prof)


def test_risk_yaml_s_old_words_are_wordings_of_the_vocabulary(config: Config) -> None:
    vocabulary = indicators_of(config.indicators)
    # The old lists differed ("cannabis" graded, "cannabis cultivation" routed): both are one id now.
    assert vocabulary.map_texts(["cannabis", "cannabis cultivation", "Cannabis farm"]).ids == ("cannabis_cultivation",)
    assert vocabulary.map_texts(["trafficker", "moved between addresses"]).ids == (
        "trafficker_contact",
        "moved_between_addresses",
    )


CONFIG = load_config(REPO / "config")
PHRASES = sorted({p for i in CONFIG.indicators.indicators.values() for p in (i.label, *i.synonyms)})


@given(st.lists(st.one_of(st.sampled_from(PHRASES), st.text(max_size=30)), max_size=4))
def test_grading_and_routing_always_agree_on_a_profile_s_indicators(texts: list[str]) -> None:
    config = CONFIG
    try:
        prof = with_indicators(*texts)
    except Exception:  # text the intake refuses (control characters…) never reaches either
        return
    assert graded_for_indicators(config, prof) == trafficking_routed(config, prof)


def test_the_trafficking_rules_of_routing_and_grading_name_the_same_group(config: Config) -> None:
    vocabulary = indicators_of(config.indicators)
    graded = next(r for r in config.risk.grading.rules if r.when.indicators)
    routed = [r for r in config.routing.rules if r.match.indicators and "trafficking" in r.name]
    assert routed and all(
        vocabulary.expand(r.match.indicators or []) == vocabulary.expand(graded.when.indicators or []) for r in routed
    )


def test_explain_rule_names_the_indicator_in_the_vocabulary_s_words(config: Config) -> None:
    from alerts.routing import Facts
    from tests.unit.test_routing import event as routing_event
    from tests.unit.test_routing import incident

    ev = routing_event()
    facts = Facts.of(incident(ev), with_indicators("CSE", "owes money to trafficker"), ev, config)
    rule = next(r for r in config.routing.rules if r.name.startswith("trafficking indicators — national"))
    assert explain_rule(rule, facts) == ["indicators sexual exploitation, debt bondage"]


def test_the_vocabulary_names_its_source(config: Config) -> None:
    assert "Modern Slavery" in config.indicators.source and "National Referral Mechanism" in config.indicators.source


# --- unmapped indicators are reported, without personal data ------------------------------------------


def test_unmapped_indicators_are_counted_per_wording_never_per_profile(config: Config) -> None:
    profiles = [with_indicators("older boyfriend", "goes missing a lot"), with_indicators("Goes missing a lot!")]
    assert unmapped_counts(profiles, indicators_of(config.indicators)) == {"goes missing a lot": 2}


def test_crucial_indicators_lists_unmapped_wordings_without_profile_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sample_profiles()
    rows[0] = rows[0] | {"indicators": ["debt bondage", "sleeps at friends' houses"]}
    path = tmp_path / "profiles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code = main(["indicators", "--config", str(REPO / "config"), "--profiles", str(path)])
    out = capsys.readouterr().out
    assert code == 1, "unmapped indicators fail the listing, so a CI job can gate on it"
    assert "1 profile(s): sleeps at friends houses" in out
    for row in rows:
        assert row["profile_id"] not in out and row["given_names"] not in out


def test_crucial_indicators_without_profiles_lists_the_vocabulary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["indicators", "--config", str(REPO / "config")]) == 0
    out = capsys.readouterr().out
    assert "sexual_exploitation" in out and "child sexual exploitation" in out and "group trafficking" in out


def test_phrase_key_ignores_case_width_and_punctuation() -> None:
    assert phrase_key("Ｃｏｕｎｔｙ-Lines!") == phrase_key("county lines") == "county lines"


def test_a_profile_without_indicators_maps_to_nothing(config: Config) -> None:
    vocabulary: Indicators = indicators_of(config.indicators)
    assert vocabulary.of_profile(None).ids == () and vocabulary.of_profile(with_indicators()).ids == ()
    assert parse_profile(json.dumps(sample_profiles()[0])).indicators  # the sample has some, all mapped:
    assert not vocabulary.of_profile(parse_profile(json.dumps(sample_profiles()[0]))).unmapped


def test_the_worker_reports_unmapped_indicators_at_profile_load_without_profile_data(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    from aiokafka import ConsumerRecord

    from alerts.matching import ProfileIndex
    from streams.pipeline.metrics import PROFILE_INDICATORS_UNMAPPED
    from streams.pipeline.profiles import ProfileFeed
    from tests.unit.pipeline.test_stage import stage

    guard, _ = stage()
    feed = ProfileFeed(config, ProfileIndex(config.risk.matching, config.risk.links), guard)
    row = sample_profiles()[0] | {"indicators": ["debt bondage", "sleeps at friends' houses", "Quoc's flat"]}
    value = json.dumps(row).encode()
    record = ConsumerRecord("profiles", 0, 0, 0, 0, row["profile_id"].encode(), value, None, 0, len(value), [])
    before = PROFILE_INDICATORS_UNMAPPED._value.get()
    with caplog.at_level("WARNING", logger="crucial.profiles"):
        feed._apply(record)
    assert PROFILE_INDICATORS_UNMAPPED._value.get() - before == 2
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "2 indicator(s) not in indicators.yaml" in said
    for text in (row["profile_id"], row["given_names"], "Quoc", "friends"):
        assert text not in said


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at risk of CSE", ("sexual_exploitation",)),
        ("Suspected county lines", ("county_lines",)),
        ("child sexual exploitation (CSE)", ("sexual_exploitation",)),
        ("possible risk of being moved abroad", ("movement_abroad",)),
        ("no concerns about CSE", ()),
        ("sexual exploitation (none)", ()),
        ("sexual exploitation (NONE)", ()),
        ("CSE ruled out", ()),
        ("not at risk of CSE", ()),
    ],
)
def test_qualifiers_are_read_off_but_a_negation_never_is(config: Config, text: str, expected: tuple[str, ...]) -> None:
    assert indicators_of(config.indicators).map_texts([text]).ids == expected
