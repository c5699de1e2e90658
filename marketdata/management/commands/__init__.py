"""`serve`, `run_feed` and `sync_instruments`."""
