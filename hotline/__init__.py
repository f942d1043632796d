"""Shared core of the hotline: settings, database, process wiring and the CLI."""
