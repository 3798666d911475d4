"""The compact record: each profile's validated JSON compressed, and a slim record for scoring."""

from __future__ import annotations

import struct
import sys
import zlib
from dataclasses import dataclass

from alerts.identity import (
    Dob,
    nationality_key,
    pack_dob,
    unpack_dob,
)
from alerts.matching.keys import _forms_of
from alerts.model import (
    Priority,
    RiskProfile,
)

# --- the compact record ---------------------------------------------------------------------------

_INT = struct.Struct("=i")
# A preset dictionary for zlib: what every profile's JSON repeats, so each compresses to far less than
# on its own. Only ever used in memory (rebuilt at start), so it may change between versions.
_ZDICT = (
    b'"scheme":"home_office","value":"HO-"scheme":"nrm","value":"NRM-"scheme":"la_reference","value":"'
    b'"relationship":"claims to be uncle"relationship":"unknown"},{"name":"'
    b'"places_of_concern":["'
    b'"responsible_local_authority":"","police_force":"Metropolitan Police Service","social_worker":{"name":"'
    b'"email":"@gov.uk","phone":"+447700900'
    b'"vehicles":["","phone_numbers":["+447700900","+44'
    b'"indicators":["debt bondage","cannabis cultivation","county lines","sexual exploitation","controlled phone"'
    b'"risk_level":"high","risk_level":"medium","risk_level":"low","associates":[{"name":"'
    b'"sex":"female","sex":"male","nationality":"Vietnamese","nationality":"Albanian","nationality":"Eritrean"'
    b'"nationality":"Sudanese","nationality":"Afghan","nationality":"Nigerian","nationality":"Romanian","nationality":"British"'
    b'"date_of_birth":{"value":"20","estimated":true,"earliest":"20","latest":"20'
    b'"aliases":["","family_name":"","given_names":"Mohammed Nguyen "identifiers":[{"scheme":"la_reference","value":"'
    b'{"profile_id":"'
)


def _pack(profile: RiskProfile) -> bytes:
    """The validated profile as compressed JSON: a fraction of a pydantic object's memory."""
    packer = zlib.compressobj(6, zdict=_ZDICT)
    return packer.compress(profile.model_dump_json(exclude_defaults=True).encode()) + packer.flush()


def _inflate(blob: bytes) -> bytes:
    unpacker = zlib.decompressobj(zdict=_ZDICT)
    return unpacker.decompress(blob) + unpacker.flush()


def _unpack(blob: bytes) -> RiskProfile:
    return RiskProfile.model_validate_json(_inflate(blob))


_SEX = {"female": "f", "male": "m", "other": "o", "unknown": "u"}


@dataclass(frozen=True, slots=True)
class _Scoring:
    """What scoring needs of one profile, decoded from the slim record."""

    forms: list[tuple[str, ...]]
    dob: Dob | None
    sex: str
    nationality: str


_RISK = {Priority.HIGH: "h", Priority.MEDIUM: "m", Priority.LOW: "l"}
_RISK_OF = {v: k for k, v in _RISK.items()}
Record = tuple[str, int, str]  # (name forms "tok tok|tok", packed date of birth, sex + risk + nationality)


def _record(profile: RiskProfile) -> Record:
    forms = "|".join(" ".join(form.tokens) for form in _forms_of(profile))
    rest = _SEX[profile.sex] + _RISK[profile.risk_level] + nationality_key(profile.nationality)
    return (forms, pack_dob(profile.date_of_birth), sys.intern(rest))


def _decode(record: Record) -> _Scoring:
    forms, dob, rest = record
    return _Scoring([tuple(f.split(" ")) for f in forms.split("|")], unpack_dob(dob), rest[0], rest[2:])
