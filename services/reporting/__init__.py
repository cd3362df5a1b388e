"""Reporting: MongoDB read models built from every topic, served by the read API of SPEC §7."""
