"""Helpers that the tests of several apps (and the benchmarks in bench/) share.

- `testing.race`: run calls in threads released together, to test concurrent callers.
- `testing.http`: a local HTTP server answering JSON, standing in for a remote API.
- `testing.server`: a server command (the project's daphne by default) in a subprocess on a free port.

A helper only one app's tests use stays in that app's `tests` package.
"""
