"""segrepro: a reproducibility study of transfer-based adversarial attacks on semantic segmentation."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segrepro")
except PackageNotFoundError:  # a source checkout used without installing (e.g. on PYTHONPATH)
    __version__ = "0+unknown"

__all__ = ["__version__"]
