"""The packaged text model: taxonomy, rules, evasion resistance, and its profanity view."""

from __future__ import annotations

import numpy as np
import pytest
from profanity_check import predict_prob

from gova.models import Classifier, MissingModelError, load_text_classifier
from gova.models.evasion import TRICKS
from gova.models.language import detect_languages
from gova.models.text import (
    ALL_TEXT_CATEGORIES,
    PARENTS,
    ProfanityCheckScorer,
    TextModel,
    is_portuguese,
    routes,
)

TEXTS = [
    "have a wonderful day, see you at the meetup",
    "you are a stupid worthless idiot",
    "fuck off",
    "the patch notes say the bug is fixed",
    "i will find you",
    "",
    "ｆｕｌｌ width and émojis 🎉",
]
TOXIC = [
    "you are a stupid worthless idiot",
    "shut up you pathetic loser, nobody wants you here",
    "go fuck yourself you piece of shit",
    "what a dumb bitch",
    "você é um idiota imbecil",
]


@pytest.fixture(scope="module")
def model() -> TextModel:
    return load_text_classifier()


def test_profanity_view_matches_predict_prob():
    ours = ProfanityCheckScorer().predict(TEXTS)
    assert np.allclose(ours, predict_prob(TEXTS), atol=1e-12)


def test_scores_every_category_as_a_probability(model):
    assert isinstance(model, Classifier)
    scores = model.classify(TEXTS)
    assert len(scores) == len(TEXTS)
    for s in scores:
        assert tuple(s) == ALL_TEXT_CATEGORIES
        assert all(0.0 <= v <= 1.0 for v in s.values())
    assert model.classify([]) == []
    assert set(model.thresholds) == set(ALL_TEXT_CATEGORIES)


def test_ranks_toxic_above_benign(model):
    benign, toxic = model.classify([TEXTS[0], TEXTS[1]])
    assert toxic["toxicity"] > model.thresholds["toxicity"] > benign["toxicity"]
    assert toxic["insult"] > benign["insult"]


def test_subcategories_never_exceed_their_parent(model):
    texts = ["i will kill you and your whole family", "I want to end my life tonight", *TEXTS]
    for s in model.classify(texts):
        for child, parent in PARENTS.items():
            assert s[child] <= s[parent]


def test_sexual_minors_needs_a_reference_to_a_child(model):
    adult, minor = model.classify(
        ["send me nudes, I want to see you naked tonight", "send me nudes, 14 year old"]
    )
    assert adult["sexual/minors"] == 0.0
    assert minor["sexual/minors"] == pytest.approx(minor["sexual"])


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_evasion_tricks_do_not_lower_the_score(model, trick):
    plain = model.classify(TOXIC)
    tricked_texts = [TRICKS[trick](t) for t in TOXIC]
    assert tricked_texts != TOXIC  # the trick changed the text...
    tricked = model.classify(tricked_texts)
    for p, t in zip(plain, tricked, strict=True):  # ...and the score did not drop
        assert t["toxicity"] >= p["toxicity"] - 1e-6


def test_a_missing_artifact_names_the_command_that_makes_one(tmp_path):
    with pytest.raises(MissingModelError, match="gova train text"):
        TextModel(tmp_path)


def test_an_artifact_from_an_older_calibrator_asks_for_retraining(tmp_path):
    import shutil

    from gova.models.text import PACKAGED_MODEL

    shutil.copytree(PACKAGED_MODEL, tmp_path, dirs_exist_ok=True)
    weights = dict(np.load(tmp_path / "weights.npz"))
    weights["calibration"] = weights["calibration"][1:]  # one input fewer
    np.savez(tmp_path / "weights.npz", **weights)
    with pytest.raises(MissingModelError, match="retrain it with `gova train text"):
        TextModel(tmp_path)


def test_seed_only_heads_take_the_profanity_logit_straight(model):
    # Heads with public data learn a curve in alt-profanity-check's logit; seed-only heads,
    # calibrated on a few dozen positives, are kept linear in it.
    from gova.models.text import CALIBRATOR_INPUTS

    square = model._calibration[CALIBRATOR_INPUTS.index("profanity²")]
    assert square[model._heads.index("toxicity")] != 0
    seed_only = [model._heads.index(h) for h in ("self-harm", "sexual", "violence")]
    assert not square[seed_only].any()


def test_short_brazilian_tweets_reach_the_portuguese_expert():
    # The detector calls these Galician; the expert and calibrator treat both as Portuguese.
    texts = ["@user pode sim", "bixetes vem logo por favor", "you are great", "el perro come"]
    assert is_portuguese(texts).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_only_confidently_detected_other_languages_leave_the_main_heads():
    texts = ["el perro come en la casa grande", "the dog eats at home", "o cão come", "ok"]
    portuguese, other = routes(detect_languages(texts))
    assert other.tolist() == [True, False, False, False]
    assert portuguese.tolist() == [0.0, 0.0, 1.0, 0.0]


def test_other_languages_are_scored_by_the_multilingual_heads(model):
    toxicity = ALL_TEXT_CATEGORIES.index("toxicity")
    texts = [
        "eres un imbécil inútil, nadie te quiere aquí, cállate",
        "mañana vamos a la playa con mis hijos y mis padres",
        "you are a stupid worthless idiot",
    ]
    scores = model.scores(texts)[:, toxicity]
    saved = model._multilingual_w
    model._multilingual_w = np.zeros_like(saved)  # the multilingual heads say their bias
    try:
        blank = model.scores(texts)[:, toxicity]
    finally:
        model._multilingual_w = saved
    assert scores[0] > scores[1]
    # Both Spanish texts took that route, English did not.
    assert blank[0] != pytest.approx(scores[0], abs=1e-3)
    assert blank[1] != pytest.approx(scores[1], abs=1e-3)
    assert blank[2] == pytest.approx(scores[2], abs=1e-6)


def test_the_portuguese_expert_moves_portuguese_scores_only(model):
    toxicity = ALL_TEXT_CATEGORIES.index("toxicity")
    texts = ["seu lixo nojento, cala a boca", "you are a stupid worthless idiot"]
    with_expert = model.scores(texts)[:, toxicity]
    model._experts = []  # the expert's logit then counts as 0
    try:
        without = model.scores(texts)[:, toxicity]
    finally:
        model._experts = [model._heads.index("toxicity")]
    assert with_expert[0] != pytest.approx(without[0], abs=1e-3)
    assert with_expert[1] == pytest.approx(without[1], abs=1e-6)


def test_the_first_pass_weights_are_stored_as_int8_columns_within_half_a_step():
    import numpy as np

    from gova.models.text import int8_columns

    w = np.random.default_rng(7).normal(size=(1000, 3)).astype(np.float32)
    w[:, 2] = 0.0  # a column of zeros keeps a usable scale
    q, scale = int8_columns(w)
    assert q.dtype == np.int8 and scale.shape == (3,)
    assert np.all(np.abs(q * scale - w) <= scale / 2 + 1e-6)
    assert np.abs(q[:, 0]).max() == 127 and not q[:, 2].any()
