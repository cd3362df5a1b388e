"""Enablement's HTTP routes, one router per resource: courses, certifications,
completions, learners, partners, materials, feedback and MDF requests."""
