"""Helper package of the action-recognition course: one module per pipeline stage."""
__version__ = "0.1.0"
