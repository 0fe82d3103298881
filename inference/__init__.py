"""actorstance inference: per-actor stance and sentiment for news sentences.

Names are imported lazily, so that reading and validating a config does not pay for importing
torch and transformers (config errors come back in well under a second).
"""

from importlib import import_module

_EXPORTS = {
    "ActorDictionary": "actors", "Mention": "actors",
    "EvaluateConfig": "config", "ScoreConfig": "config", "TrainConfig": "config", "load_config": "config",
    "EncodingSettings": "encoding", "PairInput": "encoding", "encode_pairs": "encoding", "mark_actor": "encoding",
    "ActorstanceError": "errors", "BundleError": "errors", "ConfigError": "errors", "DataError": "errors",
    "InputError": "errors",
    "ActorStanceModel": "model", "ModelInfo": "bundle", "load_bundle": "model", "save_bundle": "model",
    "Predictor": "predict",
    "RunSummary": "score", "score": "score",
    "Sentence": "segment", "split_sentences": "segment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'inference' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
