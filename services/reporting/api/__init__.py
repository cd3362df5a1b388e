"""Reporting's read API, one router per resource: partners, statements, payouts,
leaderboard, health and the programme summary."""
