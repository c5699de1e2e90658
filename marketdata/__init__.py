"""Market data: the tick store and its REST API, the Angel One feed, the live push, and the jobs around them."""
