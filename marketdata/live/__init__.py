"""The live push: the `/ws` consumer, the channel layer, publishing, and the tick wire shape."""
