"""Curated knowledge: competences and obligations by level of government, as validated data and rules."""
