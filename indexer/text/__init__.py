"""Text processing: French normalisation and stemming, tagging by level and theme, acronyms, article references."""
