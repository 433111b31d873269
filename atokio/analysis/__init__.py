"""atokio.analysis."""
