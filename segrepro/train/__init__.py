"""Training the zoo with a checkpoint cache (``get_model`` trains once, then loads)."""
from .cache import model_path, partial_path
from .core import TrainConfig, train_model
from .load import get_model

__all__ = ["TrainConfig", "get_model", "model_path", "partial_path", "train_model"]
