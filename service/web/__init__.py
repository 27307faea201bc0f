"""The web pages: search, profile, templates and static files."""
