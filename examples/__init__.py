"""Runnable examples; each is a package run with ``python -m examples.<name>``."""
