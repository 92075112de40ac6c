"""Shipped human data (package data): verbatim copies of public datasets with LICENSE and SOURCE.
See AGGREGATION.md for how trials become item norms."""
