"""Management commands of marketdata."""
