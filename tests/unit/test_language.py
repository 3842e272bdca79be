import pytest

from gova.models.language import (
    WELL_COVERED,
    Language,
    detect_language,
    detect_languages,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("you are an idiot", "en"),
        ("Você é um idiota", "pt"),
        ("eres un idiota de mierda", "es"),
        ("tu es vraiment stupide", "fr"),
        ("du bist ein Idiot", "de"),
        ("sei proprio uno stupido", "it"),
        ("I love this song so much", "en"),
        ("go kill yourself", "en"),
    ],
)
def test_detects_the_languages_gova_aims_at(text: str, code: str) -> None:
    lang = detect_language(text)
    assert lang.code == code
    assert 0.5 <= lang.confidence <= 1.0
    assert lang.well_covered == (code in {"en", "pt"})


@pytest.mark.parametrize("text", ["ok", "👍", "@user", "", "   ", "123 456", "!!!", "#1", "a b"])
def test_too_short_is_undetermined(text: str) -> None:
    assert detect_language(text) == Language(code="und", confidence=0.0, well_covered=False)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Ты просто идиот и тебе пора уйти", "ru"),
        ("お前は本当にバカだな", "ja"),
        ("Γεια σου φίλε μου, τι κάνεις;", "el"),
    ],
)
def test_other_languages_not_well_covered(text: str, code: str) -> None:
    lang = detect_language(text)
    assert lang.code == code
    assert not lang.well_covered


def test_low_confidence_is_not_well_covered() -> None:
    for text in ["shut up", "you suck", "lol", "hello"]:
        lang = detect_language(text)
        assert 0.0 <= lang.confidence <= 1.0
        if lang.confidence < 0.5:
            assert not lang.well_covered


def test_noise_is_ignored() -> None:
    lang = detect_language("@bob https://example.com/x #tag 2024 Você é um idiota!!! 😡")
    assert lang.code == "pt"
    assert lang.well_covered


def test_batch_matches_single() -> None:
    texts = ["you are an idiot", "ok", "Ты просто идиот и тебе пора уйти"]
    assert detect_languages(texts) == [detect_language(t) for t in texts]
    assert detect_languages([]) == []


def test_well_covered_set() -> None:
    assert {"en", "pt"} == WELL_COVERED
    assert "und" not in WELL_COVERED
