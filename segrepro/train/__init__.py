"""Training the zoo with a checkpoint cache (``get_model`` trains once, then loads)."""
from .cache import get_model, model_path, partial_path
from .core import TrainConfig, train_model

__all__ = ["TrainConfig", "get_model", "model_path", "partial_path", "train_model"]
