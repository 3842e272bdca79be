import random
import unicodedata
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from gova.models import evasion
from gova.models.evasion import TRICKS, fold

SENTENCES = [
    # toxic, English
    "you are an idiot",
    "i hope you die in a fire",
    "shut up you stupid bitch",
    "go kill yourself loser",
    "what a piece of shit",
    "fuck off and never come back",
    "you are a disgusting pig",
    "nobody likes you, just leave",
    "ugly fat cow, everyone hates you",
    "go back to your country",
    "dumb ass moron",
    "i will find you and hurt you",
    # benign, English
    "thanks for the help, have a great day",
    "i love this song so much",
    "the meeting is at noon tomorrow",
    "this is the best pizza in town",
    "we should grab coffee sometime",
    "happy birthday, my dear friend!",
    # Portuguese
    "você é um idiota",
    "cala a boca, sua vadia",
    "vai se foder, seu merda",
    "pessoas como você deveriam morrer",
    "não gostei do filme, mas a música é ótima",
    "obrigado pela ajuda, até amanhã",
    "que saudade da minha avó",
    # Spanish / French / German / Italian
    "eres un idiota de mierda",
    "muchas gracias por todo, señor",
    "tu es vraiment stupide",
    "ça va très bien, merci beaucoup",
    "du bist ein idiot",
    "schöne grüße aus münchen",
    "sei proprio uno stupido",
    "che bella giornata oggi",
]


@pytest.mark.parametrize("trick", sorted(TRICKS))
@pytest.mark.parametrize("sentence", SENTENCES)
def test_each_trick_round_trips(trick: str, sentence: str) -> None:
    tricked = TRICKS[trick](sentence)
    assert fold(tricked) == fold(sentence)


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_each_trick_changes_the_text(trick: str) -> None:
    changed = [s for s in SENTENCES if TRICKS[trick](s) != s]
    assert len(changed) >= len(SENTENCES) // 2


def test_trick_examples() -> None:
    assert TRICKS["leetspeak"]("you are an idiot") == "y0u are an 1d10t"
    assert TRICKS["stylised"]("idiot") == "𝐢𝐝𝐢𝐨𝐭"
    assert TRICKS["zero_width"]("idiot") == "i\u200bd\u200bi\u200bo\u200bt"
    assert TRICKS["spacing"]("you are an idiot") == "you are an i d i o t"
    assert TRICKS["repeated"]("idiot") == "idiooooot"
    assert TRICKS["confusables"]("idiot") != "idiot"


@pytest.mark.parametrize("sentence", SENTENCES)
def test_plain_sentences_are_unchanged(sentence: str) -> None:
    assert fold(sentence) == sentence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # stylised letters
        ("𝐟𝐮𝐜𝐤", "fuck"),
        ("𝓯𝓾𝓬𝓴", "fuck"),
        ("ｆｕｃｋ", "fuck"),
        ("ⓕⓤⓒⓚ", "fuck"),
        ("🅵🆄🅲🅺", "FUCK"),
        ("🅕🅤🅒🅚", "FUCK"),
        ("⒡⒰⒞⒦", "fuck"),
        ("🇫🇺🇨🇰", "FUCK"),
        ("🇫 🇺 🇨 🇰", "FUCK"),
        ("ᴛʜɪs ɪs sᴛᴜᴘɪᴅ", "this is stupid"),
        ("🅰️ team", "A team"),
        # confusables
        ("іdіоt", "idiot"),
        ("уоu аrе а ѕtuріd іdіоt", "you are a stupid idiot"),
        ("ѕhіt", "shit"),
        ("yoս аre ɑ ɡeek", "you are a geek"),
        ("ΙDΙΟΤ", "IDIOT"),
        # invisible characters and zalgo
        ("f\u200bu\u200cc\u200dk", "fuck"),
        ("f\u2060u\ufeffc\u00adk\u034f", "fuck"),
        ("i\u200ed\u200fiot", "idiot"),
        ("f̸̢̛u̴͍͝c̷͔k̵̰̈́", "fuck"),
        ("f̶u̶c̶k̶", "fuck"),
        ("\u202ekcuf", "fuck"),
        # spacing
        ("f u c k", "fuck"),
        ("f.u.c.k", "fuck"),
        ("f-u-c-k", "fuck"),
        ("f_u_c_k", "fuck"),
        ("f*u*c*k", "fuck"),
        ("f  u   c k you", "fuck you"),
        ("you are a s s", "you are ass"),
        ("I am a man", "I am a man"),
        ("il y a à peine deux jours", "il y a à peine deux jours"),
        ("e.g. this", "e.g. this"),
        ("f**k", "f**k"),
        ("sh*t", "sh*t"),
        # leetspeak
        ("sh1t", "shit"),
        ("1d10t", "idiot"),
        ("y0u 4r3 4n 1d10t", "you 4r3 4n idiot"),
        ("b1tch", "bitch"),
        ("b@stard", "bastard"),
        ("a$$hole", "asshole"),
        ("$hit", "shit"),
        ("sh!t", "shit"),
        ("SH1T", "SHIT"),
        ("bu11sh1t", "bullshit"),
        ("wow!", "wow!"),
        ("wow!!! ok", "wow!!! ok"),
        ("my friend!", "my friend!"),
        # repeated letters
        ("fuuuuuck", "fuck"),
        ("shiiiiit", "shit"),
        ("idiooooot", "idiot"),
        ("FUuUUck", "FUck"),
        ("good all", "good all"),
        ("nãããão", "não"),
        # case and whitespace
        ("FuCk", "FuCk"),
        ("1º lugar", "1o lugar"),  # NFKC
        ("  hello \t\n world  ", "hello world"),
        ("", ""),
    ],
)
def test_fold_examples(text: str, expected: str) -> None:
    assert fold(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # accented Latin
        "Você é muito legal, não é?",
        "Ça va très bien, über naïve café",
        "El niño comió piñata en España",
        "Schöne Grüße, Größe, Äpfel",
        "Perché è così difficile?",
        "Việt Nam",
        "ação, coração, pão, mãe",
        # other scripts
        "Я знаю, что ты идиот",
        "Ты просто идиот и тебе пора уйти",
        "Это сор",
        "а",
        "Γεια σου φίλε μου, τι κάνεις;",
        "και",
        "お前は本当にバカだな",
        "哈哈哈",
        "ที่นี่",
        "नमस्ते दुनिया",
        "هذا غبي جدا",
        "می‌خواهم",
        # numbers, dates, units
        "2024",
        "10",
        "3.5",
        "1st 2nd 3rd 4th",
        "mp3 mp4 ps5 b2b covid19 h264 x86 win10 a10",
        "10am 5pm 4k 3d 1080p 24h",
        "2024-01-05 05/01/2024 10:30",
        "R$ 50,00 R$50 $100 100$ 50% $TSLA",
        # links, mentions, e-mails, hashtags
        "https://www.example.com/a-b-c?x=1&y=0",
        "https://g00gle.com/aaa",
        "www.example.com",
        "@user @us3r @a1b2 @aaaron",
        "john.doe@example.com a.b@x.org",
        "#love #2024",
        # emoji
        "😀👍🔥",
        "👨\u200d👩\u200d👧 ❤️\u200d🔥 👍🏽 1️⃣ #️⃣",
        "I love Brazil 🇧🇷🇧🇷 and 🇺🇸🇵🇹",
        # other
        "World War III, Henry VIII",
        "e.g. i.e. U.K.",
        "wow!",
        "a b",
    ],
)
def test_legitimate_text_is_unchanged(text: str) -> None:
    assert fold(text) == text


def test_accents_survive_zalgo_only_when_single() -> None:
    assert fold("e\u0301") == "é"  # decomposed accent is composed, not stripped
    assert fold("ñandú über façade") == "ñandú über façade"
    assert fold("é\u0353\u035b") == "é"  # zalgo on an accented letter keeps the accent


def test_whitespace_collapsed() -> None:
    assert fold("one  \u00a0 two\u2003three\n\nfour") == "one two three four"
    assert fold(" you\u200b \u200b are ") == "you are"


IDEMPOTENCE_CASES = [
    *SENTENCES,
    *(TRICKS[t](s) for t in TRICKS for s in SENTENCES[::4]),
    "a  b c",
    "aaa b c",
    "hi a a a there",
    "a b c.d.e",
    "a.b.c d e",
    "i!i x y",
    "x!y! sh!!!t",
    "а b с",
    "да а b c",
    "1d10t 4r3 mp3",
    "é\u0353\u035b a\u0301\u0301",
    "a\u200d\ufe0f",
    "O\u200d\ufe0f🇷$*",
    "\u202e\u202e- \u200d\u0301оy8yà",
    "f u u u c k",
    "FUUUCK fuUUuck",
    "@x.com.2с\ufe0f🇧i6👍о",
]


@pytest.mark.parametrize("text", IDEMPOTENCE_CASES)
def test_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


def test_idempotent_on_random_strings() -> None:
    rng = random.Random(1234)
    alphabet = [
        *"abcdeiostuxy   AIOS..--__**||!!@@$$013457826é à",
        *"аеоісуΑοЯд\u200b\u200d\u0301\u0336\u0353\u035b🇧🇷🅰😀👍\ufe0f\u202e",
        "www.",
        "://",
        "@x.com",
        "III",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 16)))
        once = fold(text)
        assert fold(once) == once, text


PLAIN_ASCII = (
    "Hey, I think you're wrong about this one. The game last night was great, see you soon!"
)


def _record_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on fold's costly steps: Unicode normalisation and each full regex substitution."""
    calls: list[str] = []

    def spy(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return fn(*args, **kwargs)

        return wrapper

    normalize = spy("normalize", unicodedata.normalize)
    monkeypatch.setattr(evasion, "unicodedata", SimpleNamespace(normalize=normalize))
    for name in ("_tidy", "_confusables"):
        monkeypatch.setattr(evasion, name, spy(name, getattr(evasion, name)))
    for name in ("_RLO", "_REGIONAL", "_REPEAT", "_JOIN", "_LEET_WORD"):
        pattern = getattr(evasion, name)
        proxy = SimpleNamespace(search=pattern.search, sub=spy(f"{name}.sub", pattern.sub))
        monkeypatch.setattr(evasion, name, proxy)
    return calls


def test_plain_ascii_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Speed (µs per call) is measured in bench/, not here; this pins the work behind it.
    calls = _record_work(monkeypatch)
    assert fold(PLAIN_ASCII) == PLAIN_ASCII
    # No Unicode step, and one structural pass in which only " I " gets past a cheap pre-check.
    assert calls == ["_JOIN.sub"]


def test_obfuscated_text_does_the_work_the_fast_path_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    # The spies see the steps when they are needed, so the fast-path test above can fail.
    calls = _record_work(monkeypatch)
    assert fold("уоu аrе sо f u c k і n g stupіd, fuuuuck") == "you are so fucking stupid, fuck"
    assert {"normalize", "_tidy", "_confusables", "_REPEAT.sub", "_JOIN.sub"} <= set(calls)
    calls.clear()
    assert fold("you are so fucking stupid, fuck") == "you are so fucking stupid, fuck"
    assert calls == []  # folded plain ASCII passes every cheap pre-check untouched
