"""ML model wrappers, one module per modality, each behind the `Classifier` protocol."""

from gova.models.base import Classifier, MissingModelError
from gova.models.text import load_text_classifier

__all__ = ["Classifier", "MissingModelError", "load_text_classifier"]
