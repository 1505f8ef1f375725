"""dkg: a knowledge graph of Dutch defence-industry financing, compiled from curated claims."""

__version__ = "0.1.0"
