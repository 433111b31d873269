"""atokio.tools."""
