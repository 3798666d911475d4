"""Phrase rules over a carer's free text, with negations: what grading reads in `accompanied_by`.

A phrase holds when its words occur together, as whole words (case, width and punctuation aside; "n't"
read as "not"), and no negation ("not", "no", "never", "without"…) comes before it in the same
clause within a few words. A clause ends at punctuation and at "but": so "his brother Tom (not a
stranger)" does not say "stranger", "not with her sister but with an older man" does say "older man",
and a phrase may carry its own negation ("did not recognise", "not known to staff").
"""

from __future__ import annotations

import re
import unicodedata

NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "neither", "none"})
CLAUSE_ENDS = frozenset({",", ";", ":", ".", "!", "?", "(", ")", "[", "]", "/", "but", "although", "though", "however"})
NEGATION_REACH = 4  # words before the phrase a negation still governs ("no sign of an unknown adult")

_TOKEN = re.compile(r"[^\W_]+|[,;:.!?()\[\]/]")
_CONTRACTION = re.compile(r"(\w)n['’]t\b")


def tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _CONTRACTION.sub(r"\1 not", folded.replace("can't", "can not").replace("won't", "will not"))
    return _TOKEN.findall(folded)


def _negated(words: list[str], start: int) -> bool:
    for i in range(start - 1, max(-1, start - 1 - NEGATION_REACH), -1):
        if words[i] in CLAUSE_ENDS:
            return False
        if words[i] in NEGATIONS:
            return True
    return False


def phrase_holds(text: str, phrase: str) -> bool:
    words, wanted = tokens(text), tokens(phrase)
    if not wanted:
        return False
    size = len(wanted)
    return any(words[i : i + size] == wanted and not _negated(words, i) for i in range(len(words) - size + 1))


def any_phrase(texts: list[str], phrases: list[str]) -> list[str]:
    """The phrases that hold in any of `texts`, in the order given."""
    return [p for p in phrases if any(phrase_holds(t, p) for t in texts)]
