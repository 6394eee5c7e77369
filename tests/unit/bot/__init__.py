"""Unit tests of `bot/`."""
