"""Qui fait quoi: parse, tag, embed and index French local-government law."""

__version__ = "0.1.0"
