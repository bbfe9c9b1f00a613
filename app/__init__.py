"""Keepsake: persona chat that runs entirely on your own machine."""
