"""Unit tests of `handlers/`."""
