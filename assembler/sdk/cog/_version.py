"""Versions: the Cog SDK API this package is compatible with, and pinion's own."""

COG_API_VERSION = "0.16.12"
PINION_VERSION = "0.1.0"
__version__ = COG_API_VERSION + "+pinion." + PINION_VERSION
