"""Budgetline: the app factory, settings, authentication and CLI."""
