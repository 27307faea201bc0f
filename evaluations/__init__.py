"""Retrieval quality: BEIR-format gold sets, pure ranking metrics, the in-process runner and pinned scores."""
