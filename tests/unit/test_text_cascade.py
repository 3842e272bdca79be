"""The cascade's first pass, the any-unsafe view `/v1/moderations` answers with, and the
labels and split they are trained on."""

from __future__ import annotations

import numpy as np
import pytest

from gova.models.text import OPENAI_CATEGORIES, TextModel, load_text_classifier, openai_view
from gova.training.data import is_held_out, split_key, to_example
from gova.training.text import cascade_band

CLEAN = ["see you at the meetup tomorrow", "the patch notes say the bug is fixed"] * 8
MIXED = [
    "have a wonderful day",
    "you are a stupid worthless idiot",
    "go fuck yourself you piece of shit",
    "how do I kill the python process that hangs",
    "I want to end my life tonight, I have the pills ready",
    "what time does the store open",
]


class CountingEncoder:
    """Wraps the model's encoder and counts the texts it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts += list(texts)
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def model() -> TextModel:
    return load_text_classifier()


def test_the_maximum_of_the_openai_view_is_the_any_unsafe_probability():
    scores = {c: 0.0 for c in OPENAI_CATEGORIES} | {"toxicity": 0.99}
    scores |= {"harassment": 0.4, "hate": 0.2}
    view = openai_view(scores, 0.8)
    assert list(view) == list(OPENAI_CATEGORIES)
    assert max(view.values()) == pytest.approx(0.8)
    assert view["harassment"] == pytest.approx(0.8) and view["hate"] == pytest.approx(0.4)
    assert openai_view({c: 0.0 for c in OPENAI_CATEGORIES}, 0.9) == dict.fromkeys(
        OPENAI_CATEGORIES, 0.0
    )


def test_moderations_rank_by_the_any_unsafe_head(model):
    views = model.moderations(MIXED)
    unsafe = [s["unsafe"] for s in model.classify_with_unsafe(MIXED)]
    for view, u in zip(views, unsafe, strict=True):
        assert max(view.values()) == pytest.approx(u, abs=1e-5)
    assert max(views[1].values()) > max(views[0].values())
    assert max(views[4].values()) > max(views[5].values())


def test_settled_texts_never_reach_the_encoder(model):
    counting = CountingEncoder(model.features.encoder)
    cascaded = TextModel(model.path, encoder=counting)
    folded = CLEAN + MIXED
    logits = cascaded.logits(folded)
    reached = cascaded.last_encoded
    assert len(counting.texts) == int(reached.sum())
    assert counting.texts == [folded[i] for i in np.flatnonzero(reached)]
    # Texts that reached the encoder score exactly as without the cascade.
    full = cascaded.logits(folded, cascade=False)
    assert cascaded.last_encoded.all()
    assert np.allclose(logits[reached], full[reached], atol=1e-5)
    # A band that settles everything: no English text reaches the encoder, and each keeps
    # its first-pass scores, which rank the clean chat below the insults.
    counting.texts.clear()
    cascaded.cascade_low = np.inf
    cheap = cascaded.logits(folded)
    assert counting.texts == [] and not cascaded.last_encoded.any()
    assert not np.allclose(cheap, full)
    toxicity = cascaded._heads.index("toxicity")
    assert cheap[len(CLEAN) + 1, toxicity] > cheap[: len(CLEAN), toxicity].max()


def test_the_band_keeps_every_case_within_the_allowed_drop():
    rng = np.random.default_rng(0)
    n = 2000
    y = (rng.random(n) < 0.3).astype(int)
    full = (y * 3 + rng.normal(size=n))[:, None]
    # The first pass is as good at the ends and noisy in the middle.
    cheap = full + np.where(np.abs(full) < 2, rng.normal(scale=3, size=(n, 1)), 0)
    rows = [
        to_example({"id": str(i), "text": "t", "labels": {"hate": int(v)}}, "s")
        for i, v in enumerate(y)
    ]
    band = cascade_band(full, cheap, cheap, rows, ["hate"], eligible=np.ones(n, bool))
    assert band["cases"] == 1
    assert 0 < band["settled"] < 1
    assert band["worst_drop"] <= band["max_drop"]
    # A first pass that knows nothing settles nothing.
    noise = rng.normal(size=(n, 1))
    none = cascade_band(full, noise, noise, rows, ["hate"], eligible=np.ones(n, bool))
    assert none["settled"] < 0.05


def test_any_unsafe_label():
    def label(labels, dataset="s"):
        return to_example({"id": "1", "text": "t", "labels": labels}, dataset).labels.get("unsafe")

    assert label({"sexual": 1}) == 1
    assert label({"hate": 1, "toxicity": 0}) == 1
    assert label({"toxic": 0}) == 0  # harmless overall
    assert label({"hate": 0}) is None  # not hate says nothing of violence
    assert label({"hate": 0}, "gahd_de") == 0  # the set's "not hate" is its harmless route
    assert label({"toxicity": 1}) is None  # toxicity is no OpenAI category
    assert label({"unsafe": 1}, "xstest") == 1


def test_translations_of_a_prompt_fall_on_one_side_of_the_split():
    ids = [f"multijail:{n}:{lang}" for n in range(200) for lang in ("en", "zh", "it")]
    for n in range(200):
        sides = {is_held_out("multijail", f"multijail:{n}:{lang}") for lang in ("en", "zh", "it")}
        assert len(sides) == 1
    assert 0.25 < np.mean([is_held_out("multijail", i) for i in ids]) < 0.55
    assert split_key("xsafety_insult", "xsafety:insult:de:7") == "xsafety:insult:7"
    assert split_key("davidson", "d:1:en") == "d:1:en"
