"""Unit tests of `core/`."""
