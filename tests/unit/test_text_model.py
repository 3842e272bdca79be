"""The text classifier's fast path gives exactly what the packaged model gives."""

from __future__ import annotations

import numpy as np
from profanity_check import predict_prob

from gova.models import Classifier, load_text_classifier

TEXTS = [
    "have a wonderful day, see you at the meetup",
    "you are a stupid worthless idiot",
    "fuck off",
    "the patch notes say the bug is fixed",
    "i will find you",
    "",
    "ｆｕｌｌ width and émojis 🎉",
]


def test_fast_path_matches_predict_prob():
    clf = load_text_classifier()
    assert isinstance(clf, Classifier)
    ours = np.array([s["toxicity"] for s in clf.classify(TEXTS)])
    assert np.allclose(ours, np.round(predict_prob(TEXTS), 6), atol=1e-9)
    assert ours[1] > 0.8 > ours[0]


def test_empty_batch():
    assert load_text_classifier().classify([]) == []
