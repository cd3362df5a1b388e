"""Prometheus metrics every service shares (conventional names, base units)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "partnerhub_events_consumed_total",
    "Kafka messages consumed, by event type and outcome (processed, duplicate, dead_lettered)",
    ["service", "topic", "type", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "partnerhub_events_published_total",
    "CloudEvents published to Kafka, by topic and event type",
    ["service", "topic", "type"],
)
DEAD_LETTERS = Counter(
    "partnerhub_dead_letters_total",
    "Messages sent to a dead-letter topic, by original topic and reason",
    ["service", "topic", "reason"],
)
BATCH_SECONDS = Histogram(
    "partnerhub_batch_processing_seconds",
    "Time to process one consumed batch, from receipt to the state written and events published",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "partnerhub_batch_size_messages",
    "Messages in one consumed batch",
    ["service"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500),
)
OUTBOX_BACKLOG = Gauge(
    "partnerhub_outbox_backlog_events",
    "Events stored for publishing but not yet acknowledged by Kafka",
    ["service"],
)
WRITE_CONFLICTS = Counter(
    "partnerhub_write_conflicts_total",
    "Optimistic-concurrency conflicts (another replica wrote the same document first); retried",
    ["service", "collection"],
)
HTTP_REQUESTS = Counter(
    "partnerhub_http_requests_total",
    "HTTP requests served, by route template, method and status code",
    ["service", "route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "partnerhub_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSUMER_LAG = Gauge(
    "partnerhub_consumer_lag_messages",
    "Messages on a topic partition not yet consumed by the service's group",
    ["service", "topic", "partition"],
)
BUSINESS_REVENUE = Gauge(
    "partnerhub_revenue",
    "Commissionable revenue in the read models, by currency and period (reporting)",
    ["currency", "period"],
)
BUSINESS_COMMISSION = Gauge(
    "partnerhub_commission",
    "Commission plus target bonus in the read models, by currency and period (reporting)",
    ["currency", "period"],
)
MONGODB_COMMAND_SECONDS = Histogram(
    "partnerhub_mongodb_command_duration_seconds",
    "Time the MongoDB-protocol server took to answer a command, by command and collection",
    ["service", "command", "collection", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
WEBHOOK_DELIVERIES = Counter(
    "partnerhub_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, failed (tried again later), parked "
    "(given up after the retry budget) (notifications)",
    ["outcome"],
)
WEBHOOK_QUEUE = Gauge(
    "partnerhub_webhook_queue", "Webhook deliveries waiting to be made (notifications)"
)
EMAILS = Counter(
    "partnerhub_emails_total",
    "Emails by kind and outcome: queued, sent, retried (the mail server failed; tried again "
    "later), failed (given up after a day) (notifications)",
    ["kind", "outcome"],
)
