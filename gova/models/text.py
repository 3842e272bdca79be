"""Text classifiers.

Gova's text model scores OpenAI's moderation taxonomy plus Perspective's attributes. Every
text is first folded (`gova.models.evasion`) so that leetspeak, lookalike letters and spacing
tricks reach the heads as the plain words. Each trained head is a logistic regression over
three views of the folded text, so each view covers what the others miss:

- TF-IDF word and character n-grams (any language written in words; learns slurs, profanity
  and their misspellings from the labelled data),
- a MiniLM sentence embedding on onnxruntime (meaning: threats, self-harm, sexual content
  phrased without trigger words; generalises from a few hundred written seeds),
- alt-profanity-check's probability (its linear model was fitted on Wikipedia comments).

A calibrator per head weighs the head against alt-profanity-check, differently for Portuguese
text, where `toxicity` also has an expert head fitted on Portuguese rows alone. Text in
another language (neither English nor Portuguese, by the detector) is also scored by a
multilingual head per category over a multilingual-e5 embedding, averaged with the main one.
Subcategories are bounded by their parent (hate/threatening ≤ hate), and sexual/minors is a
rule: the sexual score where the text refers to a minor. `gova train text` writes the
artifact this module loads; `docs/text-model.md` says how each category was made.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from gova.models.base import Classifier, MissingModelError
from gova.schemas.pipeline import Language

#: OpenAI's moderation taxonomy (the order its API lists them in).
OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
#: Perspective's attributes that OpenAI's taxonomy lacks.
PERSPECTIVE_CATEGORIES = ("toxicity", "insult", "profanity", "threat")
#: Every category the text model scores.
ALL_TEXT_CATEGORIES = OPENAI_CATEGORIES + PERSPECTIVE_CATEGORIES
#: A subcategory never scores above its parent.
PARENTS = {
    "harassment/threatening": "harassment",
    "hate/threatening": "hate",
    "illicit/violent": "illicit",
    "self-harm/intent": "self-harm",
    "self-harm/instructions": "self-harm",
    "violence/graphic": "violence",
}
#: Scored by rule, not by a head of its own.
RULE_CATEGORIES = ("sexual/minors",)
TRAINED_CATEGORIES = tuple(c for c in ALL_TEXT_CATEGORIES if c not in RULE_CATEGORIES)
#: A head of its own for "some OpenAI category applies", trained on every set's union of
#: them: the any-unsafe score `/v1/moderations` ranks by (see `TextModel.moderations`). It is
#: not a category: verdicts and policies never see it.
AGGREGATE = "unsafe"
HEADS = (*TRAINED_CATEGORIES, AGGREGATE)
#: The any-unsafe score: this share of the any-unsafe head's probability, the rest the
#: largest OpenAI category's. Chosen on the calibration rows (mean AUPRC over the ten sets
#: with an any-unsafe label and ≥ 10 of each class: the head alone 0.642, the largest
#: category alone 0.661, a quarter of the head 0.664, half 0.660).
AGGREGATE_WEIGHT = 0.25

PACKAGED_MODEL = Path(__file__).parent / "artifacts" / "text"
MINOR_TERMS = Path(__file__).parents[1] / "training" / "written" / "minor_terms.json"


#: What each head's calibrator sees: its raw logit and alt-profanity-check's, each also
#: multiplied by "the text is Portuguese", that indicator itself, the head's Portuguese
#: expert's logit on Portuguese text (0 where the head has no expert), and
#: alt-profanity-check's logit squared, which lets a calibrator bend that logit: toxicity's
#: ends up concave (a confident "clean" counts fully, profanity beyond a point adds nothing
#: the head has not seen). On the calibration rows (5-fold CV) toxicity rose from 0.860 to
#: 0.891 AUPRC on wikitalk and from 0.824 to 0.835 on HateXplain.
CALIBRATOR_INPUTS = (
    "head",
    "profanity",
    "pt",
    "head×pt",
    "profanity×pt",
    "expert×pt",
    "profanity²",
)
#: Heads with a Portuguese expert: a second head fitted on Portuguese rows alone. Pooled
#: with English rows, the n-gram weights a Portuguese comment needs are crowded out.
PT_EXPERTS = ("toxicity",)
#: Detected languages that count as Portuguese here: the detector calls many short Brazilian
#: tweets Galician (a third of the ToLD-Br training rows it does not call Portuguese), and
#: the two share most of their spelling.
PORTUGUESE = ("pt", "gl")


#: Detected languages the main heads are fitted for. Text confidently detected as another
#: language is also scored by the multilingual heads (over multilingual-e5 embeddings), see
#: `TextModel.logits` and docs/text-model.md.
MAIN_LANGUAGES = ("en", *PORTUGUESE)


def routes(languages: Sequence[Language]) -> tuple[np.ndarray, np.ndarray]:
    """(is Portuguese, goes to the multilingual heads) per (folded) text's language."""
    from gova.models.language import MIN_CONFIDENCE, UNDETERMINED

    portuguese = np.array([lang.code in PORTUGUESE for lang in languages], float)
    other = np.array(
        [
            lang.code not in (*MAIN_LANGUAGES, UNDETERMINED) and lang.confidence >= MIN_CONFIDENCE
            for lang in languages
        ],
        bool,
    )
    return portuguese, other


def is_portuguese(texts: Sequence[str]) -> np.ndarray:
    """1.0 where a (folded) text reads as Portuguese, 0.0 elsewhere."""
    from gova.models.language import detect_languages

    return routes(detect_languages(texts))[0]


def calibrator_inputs(
    raw: np.ndarray, profanity: np.ndarray, portuguese: np.ndarray, expert: np.ndarray
) -> np.ndarray:
    """(n, heads, 7) or (n, 7): see CALIBRATOR_INPUTS; `expert` is shaped like `raw`."""
    if raw.ndim == 2:
        profanity = np.broadcast_to(profanity[:, None], raw.shape)
        portuguese = np.broadcast_to(portuguese[:, None], raw.shape)
    return np.stack(
        [
            raw,
            profanity,
            portuguese,
            raw * portuguese,
            profanity * portuguese,
            expert * portuguese,
            profanity**2,
        ],
        axis=-1,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def profanity_logit(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class ProfanityCheckScorer:
    """alt-profanity-check's model, evaluated as one sparse product.

    `predict_prob` spends ~5 ms per call in scikit-learn's checks whatever the batch size,
    which dominates micro-batches. Stacking the five (linear SVM, sigmoid calibrator) pairs
    computes the same probabilities (identical to the last bit, see the tests) in ~0.5 ms.
    """

    def __init__(self) -> None:
        try:
            from profanity_check import profanity_check as pc
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise MissingModelError(
                "alt-profanity-check is not installed: `pip install alt-profanity-check`"
            ) from exc
        self._vectorizer = pc.vectorizer
        pairs = pc.model.calibrated_classifiers_
        self._coef = np.column_stack([p.estimator.coef_.ravel() for p in pairs])
        self._intercept = np.array([p.estimator.intercept_[0] for p in pairs])
        self._a = np.array([p.calibrators[0].a_ for p in pairs])
        self._b = np.array([p.calibrators[0].b_ for p in pairs])

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        decision = self._vectorizer.transform(list(texts)) @ self._coef + self._intercept
        return _sigmoid(-(self._a * decision + self._b)).mean(axis=1)


class MinorMentions:
    """Does a text refer to a child? Word lists and age patterns in the covered languages."""

    def __init__(self, path: Path = MINOR_TERMS) -> None:
        spec = json.loads(path.read_text(encoding="utf-8"))
        words = sorted({w.lower() for k, v in spec.items() if k != "patterns" for w in v}, key=len)[
            ::-1
        ]
        alternatives = [re.escape(w) for w in words] + list(spec.get("patterns", []))
        self._pattern = re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)

    def __call__(self, text: str) -> bool:
        return self._pattern.search(text) is not None


class Features:
    """The folded text's three views, as the heads consume them."""

    def __init__(self, vectorizers, encoder, profanity: ProfanityCheckScorer) -> None:
        self.vectorizers = vectorizers
        self.encoder = encoder
        self.profanity = profanity

    def lexical(self, texts: Sequence[str]):
        from scipy import sparse

        return sparse.hstack([v.transform(texts) for v in self.vectorizers]).tocsr()

    def dense(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        if embeddings is None:
            embeddings = self.encoder.encode(texts)
        apc = profanity_logit(self.profanity.predict(texts))
        return np.hstack([embeddings, apc[:, None]]).astype(np.float32)


def load_vectorizers(spec: dict, vocab_path: Path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    with gzip.open(vocab_path, "rt", encoding="utf-8") as fh:
        saved = json.load(fh)
    vectorizers = []
    for params, state in zip(spec["vectorizers"], saved, strict=True):
        vec = TfidfVectorizer(**params, vocabulary=state["vocabulary"], dtype=np.float32)
        vec.idf_ = np.asarray(state["idf"], dtype=np.float32)
        vectorizers.append(vec)
    return vectorizers


def int8_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`w` as int8 columns and a float32 scale per column (its largest |weight| / 127), so
    that `q * scale` is what scores. The first pass's 180k x heads n-gram weights take a
    quarter of float32's bytes this way (the artifact stays a few MB); training fits the
    calibration and the cascade band on these stored values, not on the unrounded ones."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.round(w / scale).astype(np.int8), scale.astype(np.float32)


class TextModel:
    """Loads a `gova train text` artifact; `classify` is safe to call from one thread at a time
    per instance (onnxruntime sessions are thread-safe, the folding is pure)."""

    def __init__(
        self, path: Path = PACKAGED_MODEL, encoder=None, multilingual_encoder=None
    ) -> None:
        meta_path = path / "model.json"
        if not meta_path.exists():
            raise MissingModelError(
                f"no text model at {path}: train one with `gova train text --data "
                f"../shared/data/eval --out {path}` or set GOVA_TEXT_MODEL_DIR"
            )
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        self.version: str = self.meta["version"]
        self.name = f"gova-text-{self.version}"
        self.categories = ALL_TEXT_CATEGORIES
        self.thresholds: dict[str, float] = self.meta["thresholds"]
        self._encoder = encoder
        self._multilingual = multilingual_encoder
        self.path = path
        weights = np.load(path / "weights.npz")
        self._lexical_w = weights["lexical"].astype(np.float32)  # (n_lexical, heads)
        self._dense_w = weights["dense"].astype(np.float32)  # (n_dense, heads)
        self._bias = weights["bias"].astype(np.float32)
        # (len(CALIBRATOR_INPUTS) + 1, heads): the calibrator's weights, then its intercept.
        self._calibration = weights["calibration"].astype(np.float32)
        if (
            self._calibration.shape[0] != len(CALIBRATOR_INPUTS) + 1
            or "multilingual" not in weights
            or "cheap" not in weights
        ):
            raise MissingModelError(
                f"the text model at {path} was trained by an older Gova (no multilingual heads "
                f"or first pass, or calibrators of {self._calibration.shape[0] - 1} inputs where "
                f"this version's take {len(CALIBRATOR_INPUTS)}): retrain it with "
                f"`gova train text --data … --out {path}`"
            )
        self._multilingual_w = weights["multilingual"].astype(np.float32)  # (384, heads)
        self._multilingual_b = weights["multilingual_bias"].astype(np.float32)
        # The cascade's first pass: n-grams and alt-profanity-check's logit, calibrated.
        self._cheap_w = weights["cheap"].astype(np.float32)  # (n_lexical + 1, heads)
        if "cheap_scale" in weights.files:  # stored as int8 columns (see int8_columns)
            self._cheap_w *= weights["cheap_scale"]
        self._cheap_b = weights["cheap_bias"].astype(np.float32)
        self._cheap_calibration = weights["cheap_calibration"].astype(np.float32)
        self._heads: list[str] = self.meta["heads"]
        band = self.meta.get("cascade") or {}
        self.cascade_low = -np.inf if band.get("low") is None else float(band["low"])
        self.cascade_high = np.inf if band.get("high") is None else float(band["high"])
        cuts = {**self.thresholds, AGGREGATE: self.meta.get("aggregate_threshold", 0.5)}
        p = np.clip(np.array([cuts.get(h, 0.5) for h in self._heads]), 1e-6, 1 - 1e-6)
        self._cut_logits = np.log(p / (1 - p)).astype(np.float32)
        #: Items scored so far, and how many of them reached the encoder (the cascade's share).
        self.scored = 0
        self.encoded = 0
        self.last_encoded = np.zeros(0, bool)
        # The weights' columns after the heads' are their experts', in this order.
        self._experts = [self._heads.index(h) for h in self.meta.get("pt_experts", [])]
        self._minor = MinorMentions()

    @cached_property
    def features(self) -> Features:
        from gova.models.embeddings import MiniLMEncoder

        vectorizers = load_vectorizers(self.meta["features"], self.path / "vocab.json.gz")
        return Features(vectorizers, self._encoder or MiniLMEncoder(), ProfanityCheckScorer())

    @cached_property
    def multilingual_encoder(self):
        from gova.models.embeddings import E5Encoder

        return self._multilingual or E5Encoder()

    def logits(
        self,
        folded: Sequence[str],
        embeddings: np.ndarray | None = None,
        languages: Sequence[Language] | None = None,
        cascade: bool = True,
    ) -> np.ndarray:
        """Calibrated logits per head; `languages` (detected on the folded texts) when the
        caller has them already, so each text is detected once.

        The cascade: a first pass over the n-grams and alt-profanity-check (no encoder)
        scores every text; a main-language text whose largest margin to a head's threshold
        lies outside the band chosen in training (clearly clean, or clearly bad) keeps those
        scores, and only the rest reach the MiniLM encoder and the full heads. `cascade=False`
        (or `embeddings` given) runs every text through the full model."""
        if languages is None:
            from gova.models.language import detect_languages

            languages = detect_languages(folded)
        feats = self.features
        n, heads = len(folded), len(self._heads)
        lexical = feats.lexical(folded)
        apc = profanity_logit(feats.profanity.predict(folded))
        portuguese, other = routes(languages)
        zeros = np.zeros((n, heads), dtype=np.float32)
        cheap_raw = lexical @ self._cheap_w[:-1] + apc[:, None] * self._cheap_w[-1] + self._cheap_b
        cheap = self._calibrated(cheap_raw, apc, portuguese, zeros, self._cheap_calibration)
        if cascade and embeddings is None:
            gate = (cheap - self._cut_logits).max(axis=1)
            full = other | ((gate >= self.cascade_low) & (gate <= self.cascade_high))
        else:
            full = np.ones(n, bool)
        out = cheap
        self.scored += n
        self.encoded += int(full.sum())
        self.last_encoded = full
        if full.any():
            idx = np.flatnonzero(full)
            if embeddings is None:
                vectors = feats.encoder.encode([folded[i] for i in idx])
            else:
                vectors = embeddings[idx]
            dense = np.hstack([vectors, apc[idx, None]]).astype(np.float32)
            raw = lexical[idx] @ self._lexical_w + dense @ self._dense_w + self._bias
            expert = np.zeros((len(idx), heads), dtype=np.float32)
            expert[:, self._experts] = raw[:, heads:]
            out[idx] = self._calibrated(
                raw[:, :heads], apc[idx], portuguese[idx], expert, self._calibration
            )
        if other.any():
            idx = np.flatnonzero(other)
            vectors = self.multilingual_encoder.encode([folded[i] for i in idx])
            # Averaged with the main heads, not instead of them: they still know slurs and
            # profanity, and English text the detector mistakes for another language keeps
            # half its usual score.
            out[idx] = (out[idx] + vectors @ self._multilingual_w + self._multilingual_b) / 2
        return out

    @staticmethod
    def _calibrated(raw, apc, portuguese, expert, weights) -> np.ndarray:
        inputs = calibrator_inputs(raw, apc, portuguese, expert)
        return ((inputs * weights[:-1].T).sum(axis=-1) + weights[-1]).astype(np.float32)

    def scores(
        self,
        folded: Sequence[str],
        embeddings: np.ndarray | None = None,
        languages: Sequence[Language] | None = None,
    ) -> np.ndarray:
        """(n, len(ALL_TEXT_CATEGORIES)) probabilities for already-folded texts."""
        return self._table(folded, embeddings, languages)[0]

    def _table(
        self,
        folded: Sequence[str],
        embeddings: np.ndarray | None = None,
        languages: Sequence[Language] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The categories' probabilities and the any-unsafe score (AGGREGATE_WEIGHT), per
        text."""
        probs = _sigmoid(self.logits(folded, embeddings, languages))
        out = np.zeros((len(folded), len(ALL_TEXT_CATEGORIES)), dtype=np.float32)
        index = {c: i for i, c in enumerate(ALL_TEXT_CATEGORIES)}
        unsafe = np.zeros(len(folded), dtype=np.float32)
        for j, head in enumerate(self._heads):
            if head == AGGREGATE:
                unsafe = probs[:, j]
            else:
                out[:, index[head]] = probs[:, j]
        for child, parent in PARENTS.items():
            out[:, index[child]] = np.minimum(out[:, index[child]], out[:, index[parent]])
        minors = np.array([self._minor(t) for t in folded], dtype=np.float32)
        out[:, index["sexual/minors"]] = out[:, index["sexual"]] * minors
        top = out[:, [index[c] for c in OPENAI_CATEGORIES]].max(axis=1)
        return out, AGGREGATE_WEIGHT * unsafe + (1 - AGGREGATE_WEIGHT) * top

    def classify(self, batch: Sequence[str]) -> list[dict[str, float]]:
        from gova.models.evasion import fold

        return self.analyse([fold(t) for t in batch])[0]

    def analyse(self, folded: Sequence[str]) -> tuple[list[dict[str, float]], list[Language]]:
        """Scores and the detected language per already-folded text (`evasion.fold`, as the
        pipeline's ingest stage folds): what the text stage attaches to an item."""
        scores, languages, _ = self._analyse(folded)
        return scores, languages

    def _analyse(self, folded: Sequence[str]):
        if not folded:
            return [], [], np.zeros(0, dtype=np.float32)
        from gova.models.language import detect_languages

        languages = detect_languages(folded)
        table, unsafe = self._table(folded, languages=languages)
        scores = [
            {c: round(float(s), 6) for c, s in zip(ALL_TEXT_CATEGORIES, row, strict=True)}
            for row in table
        ]
        return scores, languages, unsafe

    def moderations(self, batch: Sequence[str]) -> list[dict[str, float]]:
        """OpenAI's 13 category scores per text, as `/v1/moderations` answers them: ranked
        across categories, so that their maximum is the any-unsafe head's probability."""
        return [view for _, view in self.moderations_with_scores(batch)]

    def moderations_with_scores(
        self, batch: Sequence[str]
    ) -> list[tuple[dict[str, float], dict[str, float]]]:
        """Per text, (`classify`'s scores, `moderations`' scores), from one pass."""
        from gova.models.evasion import fold

        scores, _, unsafe = self._analyse([fold(t) for t in batch])
        return [(s, openai_view(s, float(u))) for s, u in zip(scores, unsafe, strict=True)]

    def classify_with_unsafe(self, batch: Sequence[str]) -> list[dict[str, float]]:
        """`classify`'s scores plus `unsafe`, the any-unsafe probability (for evaluation)."""
        from gova.models.evasion import fold

        scores, _, unsafe = self._analyse([fold(t) for t in batch])
        return [{**s, AGGREGATE: round(float(u), 6)} for s, u in zip(scores, unsafe, strict=True)]


def openai_view(scores: dict[str, float], unsafe: float) -> dict[str, float]:
    """The OpenAI categories' scores scaled together so that the largest equals `unsafe`.

    Each head is calibrated on its own rows, at its own base rate, so the largest of 13
    independently calibrated probabilities is a poor "is anything wrong" score: a mild insult
    and a self-harm plan land anywhere relative to each other. The any-unsafe head is trained
    on the union of the categories across every set; scaling keeps each category's share of
    the text's harm (which category) and makes the maximum the any-unsafe score (a blend of
    that head and the largest category, see AGGREGATE_WEIGHT)."""
    per = {c: float(scores.get(c, 0.0)) for c in OPENAI_CATEGORIES}
    top = max(per.values(), default=0.0)
    if top <= 0.0:
        return {c: 0.0 for c in per}
    return {c: round(min(v * unsafe / top, 1.0), 6) for c, v in per.items()}


def model_dir(settings=None) -> Path:
    if settings is None:
        from gova.settings import get_settings

        settings = get_settings()
    return Path(settings.text_model_dir or PACKAGED_MODEL)


@lru_cache(maxsize=4)
def _model_thresholds(path: Path) -> dict[str, float]:
    try:
        return json.loads((path / "model.json").read_text(encoding="utf-8"))["thresholds"]
    except FileNotFoundError:
        return {}


def deployment_thresholds(settings=None) -> dict[str, float]:
    """The model's calibrated thresholds under the deployment's GOVA_THRESHOLDS overrides;
    read from model.json alone, so the API process needs no model loaded for policies."""
    if settings is None:
        from gova.settings import get_settings

        settings = get_settings()
    return {**_model_thresholds(model_dir(settings)), **settings.thresholds}


def load_text_classifier(path: str | Path | None = None) -> Classifier[str]:
    return TextModel(Path(path) if path else model_dir())
