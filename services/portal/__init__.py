"""The partner portal: the programme's web application for channel managers and
partner users (docs/portal.md). It holds no data: it reads reporting's API and
sends commands to the owning services with the signed-in person's own token."""

SERVICE = "portal"
