"""End-to-end tests: real `python -m bot` / `python -m workers` / redis-server processes and the fake platforms."""
