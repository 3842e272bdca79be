"""Per detected language: the held-out figures in docs/text-model.md, "Languages".

Run from the repository root (needs ../shared/data/train; the embedding caches of
`gova train text --cache .gova/cache/minilm-true.npz` make it minutes):

    .venv/bin/python docs/eval/languages/score_languages.py
"""

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from gova.models.embeddings import E5Encoder, MiniLMEncoder
from gova.models.evasion import fold
from gova.models.language import detect_languages
from gova.models.text import TextModel
from gova.training.data import load_examples
from gova.training.embedding_cache import CachedEncoder

CACHE = Path(".gova/cache/minilm-true.npz")
SETS = ("multijail", "xsafety_insult", "mlma", "ailuminate_demo", "gahd_de")
LANGUAGES = ("en", "de", "es", "fr", "it", "zh", "pt", "ar", "ko", "ja", "ru")
HARMFUL = ("unsafe", "toxicity", "insult")

model = TextModel(
    Path("gova/models/artifacts/text"),
    encoder=CachedEncoder(MiniLMEncoder(), CACHE),
    multilingual_encoder=CachedEncoder(E5Encoder(), CACHE.with_suffix(".e5.npz")),
)
rows = [
    e
    for name in SETS
    for e in load_examples([f"../shared/data/train/{name}.jsonl.gz"])
    if e.held_out
]
rng = np.random.default_rng(0)
rows = [e for e in rows if e.dataset != "gahd_de" or rng.random() < 0.15]  # a 15% sample
detected = [lang.code for lang in detect_languages([fold(e.text) for e in rows])]
scores: list[dict[str, float]] = []
for start in range(0, len(rows), 256):
    scores += model.classify_with_unsafe([e.text for e in rows[start : start + 256]])

out: dict[str, dict] = defaultdict(dict)
for language in LANGUAGES:
    idx = [i for i, code in enumerate(detected) if code == language]
    harmful = [i for i in idx if any(rows[i].labels.get(c) == 1 for c in HARMFUL)]
    if not harmful:
        continue
    flagged = sum(any(scores[i][c] >= t for c, t in model.thresholds.items()) for i in harmful)
    out[language]["harmful rows"] = len(harmful)
    out[language]["flagged at default thresholds"] = round(flagged / len(harmful), 3)
    for category in ("unsafe", "hate", "toxicity"):
        labelled = [i for i in idx if category in rows[i].labels]
        y = np.array([rows[i].labels[category] for i in labelled])
        if len(y) and min(y.sum(), len(y) - y.sum()) >= 8:
            auprc = average_precision_score(y, [scores[i][category] for i in labelled])
            out[language][f"{category} AUPRC (rows, positives)"] = (
                round(float(auprc), 3),
                len(y),
                int(y.sum()),
            )
print(json.dumps(out, indent=1))
