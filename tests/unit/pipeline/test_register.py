"""streams.pipeline.register's first-writer-wins rule and streams.web.sessions' shared state, over a loopback
'topic' (one partition, in order), as every worker applies the real topic."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import ConsumerRecord

from streams.pipeline.register import FirstWins, loopback
from streams.web.sessions import AuthState, fingerprint


class Topic:
    """Records every appended record; each follower applies them in the same order."""

    def __init__(self) -> None:
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self.followers: list[Any] = []

    def append(self, record: ConsumerRecord[bytes, bytes]) -> None:
        self.records.append(record)
        for follow in self.followers:
            follow(record)


async def test_of_two_workers_claiming_one_key_the_first_record_wins_for_both() -> None:
    topic = Topic()
    produce = loopback("t", topic.append)
    one, two = FirstWins(produce), FirstWins(produce)
    topic.followers = [one.apply, two.apply]
    (won_a, mine_a), (won_b, mine_b) = await asyncio.gather(
        one.claim("k", {"digest": "a"}, 5), two.claim("k", {"digest": "b"}, 5)
    )
    assert won_a == won_b == {"digest": "a"} and (mine_a, mine_b) == (True, False)
    # A worker started later reads the same order back: the same winner.
    late = FirstWins(produce)
    for record in topic.records:
        late.apply(record)
    assert late.get("k") == {"digest": "a"}


async def test_entries_past_the_horizon_are_forgotten() -> None:
    topic = Topic()
    register = FirstWins(loopback("t", topic.append), horizon_s=60)
    topic.followers = [register.apply]
    _, mine = await register.claim("sig", {}, 5)
    assert mine and register.get("sig") is not None
    assert register.get("sig", now=__import__("time").time() + 120) is None


async def test_a_revoked_session_and_an_upgraded_hash_are_seen_by_every_worker() -> None:
    topic = Topic()
    produce = loopback("auth", topic.append)
    here, there = AuthState(produce, 5), AuthState(produce, 5)
    topic.followers = [here.apply, there.apply]
    await here.revoke("sid-1", 2e9)
    assert here.revoked("sid-1") and there.revoked("sid-1") and not there.revoked("sid-2")
    await here.store_upgrade("report", "night.worker", "scrypt$old", "$argon2id$new")
    assert there.password_hash("report", "night.worker", "scrypt$old") == "$argon2id$new"
    # A new hash in config (a password change) wins over the upgrade of the old one.
    assert there.password_hash("report", "night.worker", "scrypt$changed") == "scrypt$changed"
    assert json.loads(topic.records[0].value)["expires"] == 2e9 and fingerprint("a") != fingerprint("b")


# --- kept on disk: a register restored from its state answers as the one it was taken from ---------


async def test_a_restored_register_keeps_the_first_claims_and_a_later_claim_still_loses() -> None:
    topic = Topic()
    produce = loopback("t", topic.append)
    original = FirstWins(produce)
    topic.followers = [original.apply]
    await original.claim("k", {"digest": "a"}, 5)
    await original.claim("k", {"digest": "b"}, 5)  # a second claim: the first still wins
    restored = FirstWins(produce)
    restored.restore(json.loads(json.dumps(original.state())))  # as the snapshot's JSON carries it
    topic.followers = [restored.apply]
    assert restored.get("k") == {"digest": "a"}
    won, mine = await restored.claim("k", {"digest": "c"}, 5)
    assert won == {"digest": "a"} and not mine


def test_a_restored_register_lets_go_of_entries_past_its_horizon() -> None:
    import time

    register = FirstWins(loopback("t", lambda _: None), horizon_s=60)
    now = time.time()
    register.restore({"first": [["old", {}, "n1", now - 120], ["new", {}, "n2", now - 5]]})
    assert register.get("old") is None and register.get("new") == {} and len(register) == 1


async def test_restored_auth_state_still_refuses_a_revoked_session_and_checks_the_upgraded_hash() -> None:
    topic = Topic()
    here = AuthState(loopback("auth", topic.append), 5)
    topic.followers = [here.apply]
    await here.revoke("sid-1", 2e9)
    await here.store_upgrade("report", "night.worker", "scrypt$old", "$argon2id$new")
    there = AuthState(loopback("auth", topic.append), 5)
    there.restore(json.loads(json.dumps(here.state())))
    assert there.revoked("sid-1") and not there.revoked("sid-2")
    assert there.password_hash("report", "night.worker", "scrypt$old") == "$argon2id$new"
