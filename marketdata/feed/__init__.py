"""The market-data feed: tick sources, the ingest pipeline, the heartbeat and `run_feed`."""
