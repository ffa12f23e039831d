"""Recognizers, backbones, heads and named variants, with MMAction2's state-dict layout.

One family per file (``resnet.py``, ``tsn.py``, ``tsm.py``); shared pieces in ``layers/`` and
``heads/``; the variants table in ``variants.py``.
"""

from vidlab.models.recognizer import BaseRecognizer, Recognizer2D, Recognizer3D
from vidlab.models.variants import create_model, list_models

__all__ = ["BaseRecognizer", "Recognizer2D", "Recognizer3D", "create_model", "list_models"]
