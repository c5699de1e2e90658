"""Option trading signals: curated by staff, read by users, closed by the feed's ticks."""
