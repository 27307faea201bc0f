"""HTTP service, web page and command line of Qui fait quoi."""
