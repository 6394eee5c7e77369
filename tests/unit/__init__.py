"""Unit tests, one folder per layer (core, handlers, bot, workers, models): in process, real Redis, tiny models."""
