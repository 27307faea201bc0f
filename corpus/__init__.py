"""Curated data of Qui fait quoi (taxonomy, acronyms, tracked sources, knowledge), installed as `qfq_corpus`."""
