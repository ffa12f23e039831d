"""vidlab: a pure-PyTorch toolbox for video action recognition."""

__version__ = "0.1.0"


def __getattr__(name):  # lazy: `import vidlab` stays cheap and pulls in no torch
    if name in ("init_recognizer", "inference_recognizer"):
        from vidlab import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'vidlab' has no attribute {name!r}")
