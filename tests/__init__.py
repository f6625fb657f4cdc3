"""Test suite of attndsl (a package so the benchmark can import `tests.mechanisms`)."""
