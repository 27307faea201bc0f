"""Fetching the tracked texts from the Légifrance API (PISTE) into a fresh `legi-piste-json` corpus."""
