"""atokio.connectors."""
