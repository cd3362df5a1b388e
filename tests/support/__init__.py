"""What the integration, end-to-end and reliability tests share, one module per topic.

- ``infrastructure``: finding Kafka and the MongoDB-protocol server (in the order
  ``tests/conftest.py`` gives), and stopping or starting the local ones under a test;
- ``processes``: a service run as the process it is (``python -m services.<name>``);
- ``services``: the settings that put a service process on the test infrastructure;
- ``http``: API keys for a test process, and reading its answers (the fields a 422 names);
- ``events``: a valid example of every event type, whole CloudEvents, sent as an outside
  system sends them;
- ``kafka``: reading a topic back as an outside observer;
- ``eventually``: a check retried until a service has caught up;
- ``worked_example``: the worked example of ``docs/rules/commissions.md`` as messages;
- ``tokens``: a stand-in OpenID Connect issuer signing people's access tokens (unit tests);
- ``onboarding``, ``enablement``, ``incentives``, ``reporting``: the bodies, the
  settings and the readers each service's tests use.
"""
