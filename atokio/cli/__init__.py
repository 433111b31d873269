"""atokio.cli."""
