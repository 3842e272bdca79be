"""Language identification for routing and reporting (py3langid, model shipped in the wheel).

The text classifier is trained mostly on well-covered languages; messages in other languages
(or whose language cannot be told) are flagged so the pipeline can treat the score with care.

Speed (2-core dev box, py3langid 0.4.0, restricted to ``LANGUAGES``): ~30 µs for a short
chat message (~20 chars), ~80 µs for 100 chars, ~110 µs for 200 chars; ``detect_languages``
is a plain loop (py3langid has no batch path). Loading the model at import takes ~0.5 s.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from gova.schemas.pipeline import Language

UNDETERMINED = "und"
# Languages with a labelled held-out set of their own measured at the level of English:
# en, and pt (ToLD-Br, with its own expert head). Measured on the held-out rows of
# ../shared/data/train (docs/text-model.md, "Languages"): de any-unsafe AUPRC 0.71 and hate
# 0.54 (GAHD, base rate 0.41); fr any-unsafe 0.91 but hate 0.38 (MLMA's French tweets,
# base 0.19); es, it and zh have only harmful prompts labelled (MultiJail, XSafety), so
# no AUPRC, and 43-61% of them are flagged at the default thresholds: none is well
# covered by those figures.
WELL_COVERED: frozenset[str] = frozenset({"en", "pt"})
MIN_LETTERS = 3  # fewer letters than this (after cleaning) -> "und"
MIN_CONFIDENCE = 0.5  # below this the guess is reported but never counts as well covered

# Common languages only: with all 140 labels, short English comes out as Breton/Sesotho/...
LANGUAGES: tuple[str, ...] = (
    "en", "pt", "es", "fr", "de", "it", "nl", "ca", "gl", "ro", "pl", "cs", "sk", "hu",
    "sv", "da", "no", "fi", "et", "lv", "lt", "sl", "hr", "sr", "bg", "mk", "ru", "uk",
    "el", "tr", "ar", "he", "fa", "ur", "hi", "bn", "id", "ms", "tl", "vi", "th", "zh",
    "ja", "ko", "sw",
)  # fmt: skip

_IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
_IDENTIFIER.set_languages(LANGUAGES)

# Things that carry no language signal: URLs, e-mail addresses, @mentions, #tags (the '#'),
# digits. Punctuation and emoji are not letters, so the letter count below ignores them.
_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\S+|@\w+|[#\d_]+")
_SPACES = re.compile(r"\s+")


# code: ISO 639-1 ("en", "pt"), "und" when there is too little text to tell; confidence: the
# normalised probability; well_covered: code in WELL_COVERED at confidence >= MIN_CONFIDENCE.
_UNDETERMINED = Language(code=UNDETERMINED, confidence=0.0, well_covered=False)


def _clean(text: str) -> str:
    text = _NOISE.sub(" ", text)
    # Keep letters (incl. combining marks for Indic scripts) and spaces; drop emoji/punctuation.
    kept = [ch if ch.isalpha() or unicodedata.category(ch)[0] == "M" else " " for ch in text]
    return _SPACES.sub(" ", "".join(kept)).strip()


def detect_language(text: str) -> Language:
    cleaned = _clean(text)
    if sum(ch.isalpha() for ch in cleaned) < MIN_LETTERS:
        return _UNDETERMINED
    code, confidence = _IDENTIFIER.classify(cleaned)
    confidence = min(max(float(confidence), 0.0), 1.0)
    well_covered = code in WELL_COVERED and confidence >= MIN_CONFIDENCE
    return Language(code=code, confidence=confidence, well_covered=well_covered)


def detect_languages(texts: Sequence[str]) -> list[Language]:
    return [detect_language(text) for text in texts]
