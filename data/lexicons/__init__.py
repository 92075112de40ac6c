"""Shipped lexicons (plain text); a package so that they install as package data."""
