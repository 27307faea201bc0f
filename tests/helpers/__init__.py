"""Helpers shared by the tests (imported as `helpers.*`, never from a conftest)."""
