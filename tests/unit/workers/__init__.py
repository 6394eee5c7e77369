"""Unit tests of `workers/`."""
