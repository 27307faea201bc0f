"""Reading the corpus: manifest and checksums, parsers, segmentation into passages, the passage cache."""
