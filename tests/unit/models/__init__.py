"""Unit tests of `models/`."""
