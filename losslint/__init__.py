"""losslint: find custom Keras losses that collapse the batch axis."""

__version__ = "0.1.0"
