"""Operations around the feed: its supervisor, backfills of outages, and the daily jobs."""
