"""atokio.collectors."""
