"""atokio.archive."""
