"""Recognizers, backbones, heads and named variants, with MMAction2's state-dict layout."""

from vidlab.models.factory import create_model, list_models
from vidlab.models.recognizer import Recognizer2D, Recognizer3D

__all__ = ["Recognizer2D", "Recognizer3D", "create_model", "list_models"]
