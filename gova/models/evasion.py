"""Evasion-resistant text folding.

``fold(text)`` maps a message to the canonical form the text classifier sees (in training and
at inference), undoing the usual tricks used to slip past a toxicity classifier:

* stylised letters (𝐟𝐮𝐜𝐤, 𝓯𝓾𝓬𝓴, ｆｕｃｋ, ⓕⓤⓒⓚ via NFKC; 🅵🆄🅲🅺, 🅕🅤🅒🅚, ⒡⒰⒞⒦, small caps ᴛʜɪs,
  regional-indicator letters 🇫 🇺 🇨 🇰 — valid flag pairs such as 🇧🇷 are kept),
* Cyrillic/Greek/Armenian lookalikes inside Latin words (real Russian/Greek text is kept),
* zero-width/invisible characters, right-to-left override, strike-through/underline overlays
  and "zalgo" stacks (>= 2 combining marks on a Latin/Greek/Cyrillic letter; é ã ü survive),
* spacing tricks ("f u c k", "f.u.c.k", "f-u-c-k", "f_u_c_k", "f*u*c*k", "f|u|c|k"),
* leetspeak inside words ("sh1t", "1d10t", "b@stard", "$hit"; numbers, "mp3", "1st", e-mail
  addresses, URLs and @mentions are left alone),
* letter stretching (runs of >= 3 identical letters become one: "fuuuuck" -> "fuck").

Case is kept; whitespace is collapsed. ``fold`` is idempotent. ``TRICKS`` holds one function
per trick that *applies* it to a plain text (for tests and the robustness evaluation).

Speed (2-core dev box, CPython 3.11, ~100 chars): ~7 µs for plain ASCII (fast path: no
Unicode steps, cheap regex pre-checks), ~10 µs for accented/emoji/Cyrillic text, ~40-60 µs for
a heavily obfuscated one (the structural steps repeat until nothing changes).

Known limits: leading/trailing-only digits are ambiguous and kept ("a55", "4ss", "d13", "4r3":
cf. "a10", "4k", "mp3"); a spaced run made only of one-letter words ("y o u", "il y a à") is
not joined; real one-word messages spelt only with lookalikes ("асе") are left alone.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable

__all__ = ["TRICKS", "fold"]

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()

# --- character tables --------------------------------------------------------------------

# Applied before NFKC: letter-like symbols NFKC leaves alone (or turns into "(a)"), and
# invisible characters (deleted).
_PRE: dict[int, str | None] = {
    **{0x1F150 + i: c for i, c in enumerate(_UPPER)},  # 🅐 negative circled
    **{0x1F170 + i: c for i, c in enumerate(_UPPER)},  # 🅰 negative squared
    **{0x249C + i: c for i, c in enumerate(_LOWER)},  # ⒜ parenthesised
    **str.maketrans("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡʏᴢɡɑ", "abcdefghijklmnopqrstuvwyzga"),  # small caps
    **dict.fromkeys(map(ord, "\u00ad\u034f\u115f\u1160\u180e\u200b\u200e\u200f\u3164\ufeff")),
    **dict.fromkeys(range(0x2060, 0x2065)),  # word joiner, invisible operators
    **dict.fromkeys(range(0x202A, 0x202F)),  # bidi embeddings/overrides (RLO undone first)
    **dict.fromkeys(range(0x2066, 0x206A)),  # bidi isolates
}

# Lookalikes of Latin letters in other scripts (Cyrillic, Greek, Armenian).
_CONF_FROM = "аеорсухіѕјԁһԛԝӏѵАВЕКМНОРСТХУЅІЈҮαοριχκνυΑΒΕΖΗΙΚΜΝΟΡΤΥΧոսօհՕ"
_CONF_TO = "aeopcyxisjdhqwlvABEKMHOPCTXYSIJYaopixkvuABEZHIKMNOPTYXnuohO"
_CONF = str.maketrans(_CONF_FROM, _CONF_TO)

# ISO 3166-1 alpha-2 codes: a pair of regional indicators forming one of these is a flag.
_FLAGS = frozenset(
    re.findall(
        "..",
        "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCH"
        "CICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETEUFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGM"
        "GNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLC"
        "LILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZ"
        "OMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTC"
        "TDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUNUSUYUZVAVCVEVGVIVNVUWFWSXKYEYTZAZMZW",
    )
)

_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_LEET_CHARS = "0134578@$!|"
# Real one-letter words: a run made only of these is not a spaced-out word ("il y a à").
_ONE_LETTER_WORDS = frozenset("aeiouyàáâãèéêìíòóôõùú")

# --- regular expressions -----------------------------------------------------------------

_RLO = re.compile("\u202e([^\u202a-\u202e\u2066-\u2069\n]*)\u202c?")
# ZWJ/ZWNJ are dropped after Latin/Greek/Cyrillic (and at the start) but kept after emoji
# (👨‍💻) and in scripts that use them (Persian "می‌خواهم", Indic conjuncts).
_ZWJ = re.compile(r"(?:^|(?<=[\s\x00-\u052f\u1d00-\u1fff]))[\u200c\u200d]+")
_REGIONAL = re.compile("[\U0001f1e6-\U0001f1ff]+")
_VS_AFTER_LETTER = re.compile(  # "🅰️" -> "A"; kept after emoji and digits (keycaps "1️⃣")
    r"(?<=[^\W\d_]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\ufe20-\ufe2f])[\ufe0e\ufe0f]+"
)
# Superset of _PRE's keys (a quick test before the slower str.translate).
_MAY_PRE = re.compile(
    "[\u00ad\u034f\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    "\u249c-\u24b5\u3164\ufeff\U0001f150-\U0001f189\u0251-\u029f\u1d00-\u1d22\ua730\ua731\ua7af]"
)
# Applied after NFKC: overlay marks (strike-through, underline) and what NFKC makes of U+3164.
_POST = re.compile("[\u0332-\u0338\u1160]")
# Two or more stacked combining marks ("zalgo"); stripped on Latin/Greek/Cyrillic bases only.
_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_MAY_ZALGO = re.compile(f"[{_MARKS}][{_MARKS}]")
_ZALGO = re.compile(f"[{_MARKS}]{{2,}}")
_ZALGO_BASE = re.compile(
    "[\x00-\u02ff\u0370-\u0482\u048a-\u052f\u1d00-\u1dbf\u1e00-\u1fff\u2c60-\u2c7f"
    "\ua640-\ua66f\ua680-\ua7ff]"
)
_MAY_CONF = re.compile(f"[{_CONF_FROM}]")
_CONF_WORD = re.compile(rf"\w*[{_CONF_FROM}]\w*")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_FOREIGN = re.compile(  # Greek/Cyrillic/Armenian letters that are no lookalike
    rf"(?![{_CONF_FROM}])[\u0386-\u03ff\u0400-\u0481\u048a-\u052f\u0531-\u0556\u0561-\u0587"
    r"\u1f00-\u1ffc]"
)
_LETTER = r"[^\W\d_]"
# >= 3 single letters separated by one kind of separator, standing alone.
_JOIN = re.compile(
    rf"(?<![^\s(\[{{\"'])({_LETTER}([ .\-_*|]){_LETTER}(?:\2{_LETTER})+)"
    rf"(?![^\s)\]}}\"'.,!?:;])"
)
_MAY_JOIN = re.compile(r"[ .\-_*|][^\W\d_][ .\-_*|]")  # cheap necessary condition for _JOIN
# Necessary condition for _unleet to change anything: a leet run between letters, or "$a".
# (Patterns start with a plain character class so the regex engine can skip ahead quickly.)
_MAY_LEET = re.compile(r"[0134578@$!|](?:(?<=[^\W\d_].)[0134578@$!|]*[^\W\d_]|(?<=\$)[a-z])")
_LEET_WORD = re.compile(r"(?<![\w@$!|])[\w@$!|]*[0134578@$!|][\w@$!|]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[A-Za-z]{2,}")
_MAY_REPEAT = re.compile(r"(.)\1\1", re.IGNORECASE)
_REPEAT = re.compile(r"(?i)([A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])\1\1+")
_ROMAN = re.compile(r"[IVXLCDM]+")


def _token_at(s: str, start: int, end: int) -> str:
    """The whitespace-delimited token of ``s`` around ``s[start:end]``."""
    stop = s.find(" ", end)
    return s[s.rfind(" ", 0, start) + 1 : stop if stop >= 0 else len(s)]


def _is_link(token: str) -> bool:
    return "://" in token or token.startswith("www.") or _EMAIL.search(token) is not None


def _keep_letters(token: str) -> bool:
    """Tokens whose repeated letters are meaningful: @mentions, links, "XIII"."""
    return token[0] == "@" or _is_link(token) or bool(_ROMAN.fullmatch(token.strip(".,;:!?()\"'")))


# --- steps -------------------------------------------------------------------------------


def _regional(m: re.Match[str]) -> str:
    run = m.group()
    letters = "".join(chr(ord(c) - 0x1F1E6 + 65) for c in run)
    if len(letters) % 2 == 0 and all(letters[i : i + 2] in _FLAGS for i in range(0, len(run), 2)):
        return run  # a row of real flags
    return letters


def _zalgo_strip(m: re.Match[str]) -> str:
    start = m.start()
    return "" if start == 0 or _ZALGO_BASE.match(m.string, start - 1) else m.group()


def _confusables(text: str) -> str:
    # An all-lookalike word ("асе") is folded only when the text has Latin letters and no
    # Greek/Cyrillic/Armenian letter that is not a lookalike (so "Я знаю" is left alone).
    if _LATIN.search(text) is None:
        return text  # no Latin letter at all: nothing to fold towards
    whole_text = _FOREIGN.search(text) is None

    def one(m: re.Match[str]) -> str:
        word = m.group()
        latin = other = 0
        for ch in word:
            if ch in _CONF_FROM:
                continue
            if ch.isascii() or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff":
                latin += ch.isalpha()
            elif ch.isalpha():
                other += 1
        if latin > other or (latin == other == 0 and whole_text):
            return word.translate(_CONF)
        return word

    return _CONF_WORD.sub(one, text)


def _join(m: re.Match[str]) -> str:
    run = m.group(1)
    letters = run[::2]
    return run if set(letters.lower()) <= _ONE_LETTER_WORDS else letters


def _edge(run: str) -> str:
    return run if "!" in run or "|" in run else run.translate(_LEET)


def _unleet(m: re.Match[str]) -> str:
    word = m.group()
    if word[0] == "@" or not all(c.isalpha() or c in _LEET_CHARS for c in word):
        return word  # @mention, or holds digits 2/6/9, '_', ...: a code, not leetspeak
    core = word.strip(_LEET_CHARS)
    if not core or _is_link(_token_at(m.string, m.start(), m.end())):
        return word
    if any(c in _LEET_CHARS for c in core):  # a leet character between letters: convert
        head, tail = word.partition(core)[::2]  # "!"/"|" before/after the letters are kept
        out = _edge(head) + core.replace("11", "ll").translate(_LEET) + _edge(tail)
    elif word[0] == "$" and (rest := word.lstrip("$")).islower() and rest.isalpha():  # "$hit"
        out = word.replace("$", "s")
    else:  # only leading/trailing digits: "mp3", "1st", "4k", "a10" are left alone
        return word
    letters = [c for c in word if c.isalpha()]
    return out.upper() if all(c.isupper() for c in letters) else out


def _squeeze(m: re.Match[str]) -> str:
    return m.group() if _keep_letters(_token_at(m.string, m.start(), m.end())) else m.group(1)


def _tidy(text: str) -> str:
    """Drop variation selectors after letters, zalgo stacks, overlays and stray ZWJ/ZWNJ."""
    for _ in range(4):
        new = text
        if "\ufe0f" in new or "\ufe0e" in new:
            new = _VS_AFTER_LETTER.sub("", new)
        if _MAY_ZALGO.search(new):
            new = _ZALGO.sub(_zalgo_strip, new)
        if _POST.search(new):
            new = _POST.sub("", new)
        if "\u200c" in new or "\u200d" in new:
            new = _ZWJ.sub("", new)
        if new == text:
            break
        text = unicodedata.normalize("NFC", new)  # a letter may now meet its accent
    return text


def _structure(text: str) -> str:
    """Stretching, spacing, lookalikes and leetspeak, repeated until nothing changes."""
    for _ in range(8):
        new = text
        if _MAY_REPEAT.search(new):
            new = _REPEAT.sub(_squeeze, new)
        if _MAY_JOIN.search(new):
            new = _JOIN.sub(_join, new)
        if not new.isascii() and _MAY_CONF.search(new):
            new = _confusables(new)
        if _MAY_LEET.search(new):
            new = _LEET_WORD.sub(_unleet, new)
        if new == text:
            break
        if not new.isascii():  # a folded letter may now carry a selector or an accent
            new = " ".join(_tidy(unicodedata.normalize("NFC", new)).split())
        text = new
    return text


def fold(text: str) -> str:
    """Canonical form of ``text`` for the classifier (see module docstring)."""
    if not text.isascii():
        if "\u202e" in text:  # right-to-left override: "\u202ekcuf" displays as "fuck"
            text = _RLO.sub(lambda m: unicodedata.normalize("NFC", m.group(1))[::-1], text)
        if _MAY_PRE.search(text):
            text = text.translate(_PRE)
        if _REGIONAL.search(text):
            text = _REGIONAL.sub(_regional, text)
        text = _tidy(unicodedata.normalize("NFKC", text))
    return _structure(" ".join(text.split()))


# --- tricks (for tests and the robustness evaluation) ------------------------------------

_TO_LEET = str.maketrans("aeios", "43105")
_TO_CYRILLIC = dict(zip("aceopxyisj", "асеорхуіѕј", strict=True))
_ZALGO_MARKS = "\u0315\u031a\u033d\u0346\u034a\u0350\u0352\u0357\u035b\u0353\u0359\u035c"
_VOWELS = "aeiouáéíóúâêôãõàü"
_WORD = re.compile(rf"{_LETTER}+")


def _skip(m: re.Match[str]) -> bool:
    """fold() leaves leet and stretching alone in @mentions, links and Roman numerals."""
    return _keep_letters(_token_at(m.string, m.start(), m.end()))


def _stylised(text: str) -> str:
    """Mathematical bold letters (accents kept as combining marks)."""
    out = []
    for ch in unicodedata.normalize("NFD", text):
        if "a" <= ch <= "z":
            ch = chr(0x1D41A + ord(ch) - ord("a"))
        elif "A" <= ch <= "Z":
            ch = chr(0x1D400 + ord(ch) - ord("A"))
        out.append(ch)
    return "".join(out)


def _confusable(text: str) -> str:
    """Every other a/c/e/o/p/x/y/i/s/j becomes its Cyrillic lookalike."""
    out, swap = [], True
    for ch in text:
        if ch in _TO_CYRILLIC:
            if swap:
                ch = _TO_CYRILLIC[ch]
            swap = not swap
        out.append(ch)
    return "".join(out)


def _zero_width(text: str) -> str:
    return _WORD.sub(lambda m: "\u200b".join(m.group()), text)


def _leetspeak(text: str) -> str:
    """Leet inside words ("y0u", "1d10t"); a word with no inner substitution is kept."""

    def one(m: re.Match[str]) -> str:
        word = m.group()
        leet = word.translate(_TO_LEET)
        core = leet.strip("01345")
        if "ii" in word or not any(c in "01345" for c in core) or _skip(m):
            return word
        return leet

    return _WORD.sub(one, text)


def _spacing(text: str) -> str:
    """'i d i o t' for words of >= 4 letters (never two spaced words in a row)."""
    tokens = text.split(" ")
    spaced = [False] * len(tokens)
    for i, tok in enumerate(tokens):
        near_single = any(
            0 <= j < len(tokens) and len(tokens[j].strip(string.punctuation)) == 1
            for j in (i - 1, i + 1)
        )
        plain = len(tok) >= 4 and tok.isalpha() and not set(tok.lower()) <= _ONE_LETTER_WORDS
        if plain and not near_single and not (i and spaced[i - 1]):
            tokens[i], spaced[i] = " ".join(tok), True
    return " ".join(tokens)


def _repeated(text: str) -> str:
    """Stretch the last vowel of words of >= 3 letters that is not next to its twin."""

    def one(m: re.Match[str]) -> str:
        word = m.group()
        if len(word) < 3 or _skip(m):
            return word
        for i in range(len(word) - 1, -1, -1):
            ch = word[i]
            if ch.lower() in _VOWELS and ch not in word[max(i - 1, 0) : i] + word[i + 1 : i + 2]:
                return word[:i] + ch * 5 + word[i + 1 :]
        return word

    return _WORD.sub(one, text)


def _zalgo(text: str) -> str:
    """Two or three combining marks stacked on every letter."""
    out = []
    for i, ch in enumerate(text):
        out.append(ch)
        if ch.isalpha() and ch < "\u0530":
            n = 2 + i % 2
            out.extend(_ZALGO_MARKS[(i + k) % len(_ZALGO_MARKS)] for k in range(n))
    return "".join(out)


TRICKS: dict[str, Callable[[str], str]] = {
    "stylised": _stylised,
    "confusables": _confusable,
    "zero_width": _zero_width,
    "spacing": _spacing,
    "leetspeak": _leetspeak,
    "repeated": _repeated,
    "zalgo": _zalgo,
}
