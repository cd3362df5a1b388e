"""Reporting: read models built from every topic, served by the read API."""
