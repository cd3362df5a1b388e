"""The operations files are consistent with each other and with the code, checked without tools.

deploy/check.sh (`make ops-check`) runs the real tools (promtool, kustomize,
kubernetes-validate, checkov); these tests catch the cheap mistakes first: an
alert without a test, a dashboard query on a metric that does not exist, a
Deployment that lost a probe or its security context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = ("onboarding", "enablement", "incentives", "reporting", "notifications")
CONSUMERS = ("enablement", "incentives", "reporting", "notifications")
#: Exactly one replica, never scaled (its delivery worker is a singleton): replicas 1,
#: strategy Recreate, no ScaledObject and no HPA. Left out of components/hpa on purpose.
SINGLETONS = ("notifications",)

Doc = dict[str, Any]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _documents(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _alert_rules() -> list[Doc]:
    return [r for g in _yaml(DEPLOY / "prometheus/alerts.yml")["groups"] for r in g["rules"]]


# --- metric names -----------------------------------------------------------


def _exposed_metric_names() -> set[str]:
    """What shared/metrics.py exposes, with the series names of histograms, plus `up`."""
    source = (ROOT / "shared/metrics.py").read_text()
    names = {"up"}
    for kind, name in re.findall(
        r'\b(Counter|Gauge|Histogram)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', source
    ):
        names.add(name)
        if kind == "Histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


_PROMQL_WORDS = {"and", "or", "unless", "offset", "bool", "group_left", "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, label_replace args)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?\b", " ", text)  # numbers, durations
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        if re.match(r"\s*\(", text[match.end() :]) or match.group() in _PROMQL_WORDS:
            continue  # a function call or a keyword
        names.add(match.group())
    return names


def test_metric_names_finds_the_selected_metrics_only() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(partnerhub_http_request_duration_seconds_bucket{service="x", route!~"/metrics"}[$__rate_interval])))'
        " / on (service) group_left up offset 5m"
    )
    assert metric_names(expr) == {"partnerhub_http_request_duration_seconds_bucket", "up"}


def test_the_metric_names_the_brief_lists_are_exposed() -> None:
    assert {
        "partnerhub_events_consumed_total",
        "partnerhub_dead_letters_total",
        "partnerhub_batch_processing_seconds_bucket",
        "partnerhub_consumer_lag_messages",
        "partnerhub_outbox_backlog_events",
        "partnerhub_revenue",
        "partnerhub_commission",
    } <= _exposed_metric_names()


# --- alerts -------------------------------------------------------------------


def test_every_alert_has_a_severity_a_summary_and_a_runbook() -> None:
    rules = _alert_rules()
    assert {r["alert"] for r in rules} >= {
        "PartnerhubServiceDown",
        "PartnerhubConsumerLagHigh",
        "PartnerhubDeadLetters",
        "PartnerhubProcessingErrors",
        "PartnerhubOutboxBacklog",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    tests = _yaml(DEPLOY / "prometheus/alerts_test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {r["alert"] for r in _alert_rules()}
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested not firing"
    assert (firing | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_alerts_select_only_metrics_the_services_expose() -> None:
    exposed = _exposed_metric_names()
    for rule in _alert_rules():
        assert metric_names(rule["expr"]) <= exposed, rule["alert"]


def test_prometheus_loads_the_alerts() -> None:
    config = _yaml(DEPLOY / "prometheus/prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]


def test_prometheus_scrapes_every_service_and_misses_none() -> None:
    config = _yaml(DEPLOY / "prometheus/prometheus.yml")
    (job,) = config["scrape_configs"]
    targets = {
        target: static["labels"]["service"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {f"{service}:8000": service for service in SERVICES}
    (missing,) = [r for r in _alert_rules() if r["alert"] == "PartnerhubServiceMissing"]
    for service in SERVICES:
        assert f'absent(up{{job="partnerhub", service="{service}"}})' in missing["expr"]
    local = (DEPLOY / "local/infra.sh").read_text()
    for port, service in enumerate(SERVICES, start=8001):
        assert f'{{"targets": ["127.0.0.1:{port}"], "labels": {{"service": "{service}"}}}}' in local


def test_the_prometheus_operator_rule_has_the_same_groups_as_alerts_yml() -> None:
    (rule,) = _documents(DEPLOY / "k8s/base/prometheus-rule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == _yaml(DEPLOY / "prometheus/alerts.yml")["groups"]


# --- dashboard ----------------------------------------------------------------


def _dashboard() -> Doc:
    document = json.loads((DEPLOY / "grafana/partnerhub.json").read_text())
    assert isinstance(document, dict)
    return document


def _panels(panels: list[Doc]) -> Iterator[Doc]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def test_the_dashboard_queries_only_metrics_the_services_expose() -> None:
    exposed = _exposed_metric_names()
    queries = [
        (panel["title"], target["expr"])
        for panel in _panels(_dashboard()["panels"])
        for target in panel.get("targets", [])
    ]
    assert len(queries) > 20
    for title, expr in queries:
        assert metric_names(expr), f"{title}: {expr} selects no metric"
        assert metric_names(expr) <= exposed, f"{title}: {expr}"


def test_the_dashboard_has_a_datasource_variable_that_every_query_uses() -> None:
    dashboard = _dashboard()
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    reference = {"type": "prometheus", "uid": "${" + variable["name"] + "}"}
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            assert target["datasource"] == reference, panel["title"]


def test_the_dashboard_has_a_row_per_service_a_business_row_and_a_storage_row() -> None:
    rows = [p["title"] for p in _dashboard()["panels"] if p["type"] == "row"]
    assert [r.split(" ")[0] for r in rows] == [*SERVICES, "Business", "Storage"]
    exprs = " ".join(
        t["expr"] for p in _panels(_dashboard()["panels"]) for t in p.get("targets", [])
    )
    for service in CONSUMERS:
        assert f'partnerhub_consumer_lag_messages{{service="{service}"}}' in exprs
        assert f'partnerhub_batch_processing_seconds_bucket{{service="{service}"}}' in exprs
    for service in SERVICES:
        assert f'partnerhub_http_requests_total{{service="{service}"' in exprs
    assert "partnerhub_revenue" in exprs
    assert "partnerhub_commission" in exprs
    assert "partnerhub_mongodb_command_duration_seconds_sum" in exprs
    assert "partnerhub_mongodb_command_duration_seconds_bucket" in exprs


# --- Kubernetes ----------------------------------------------------------------


def _base(name: str) -> list[Doc]:
    return _documents(DEPLOY / f"k8s/base/{name}.yaml")


def _one(documents: list[Doc], kind: str) -> Doc:
    (found,) = [d for d in documents if d["kind"] == kind]
    return found


def _check_pod_security(where: str, pod: Doc) -> None:
    assert pod["automountServiceAccountToken"] is False, where
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True, where
    assert security["runAsUser"] == 10001, where
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
    tmp = {
        m["name"] for c in pod["containers"] for m in c["volumeMounts"] if m["mountPath"] == "/tmp"
    }
    assert any(v["name"] in tmp and "emptyDir" in v for v in pod["volumes"]), f"{where}: /tmp"
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] == 10001, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["capabilities"] == {"drop": ["ALL"]}, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        resources = container["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{where}: {bound}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_hardened_deployment_with_both_probes(service: str) -> None:
    documents = _base(service)
    deployment = _one(documents, "Deployment")
    assert deployment["metadata"]["name"] == f"partnerhub-{service}"
    pod = deployment["spec"]["template"]["spec"]
    _check_pod_security(service, pod)
    (container,) = pod["containers"]
    assert container["image"] == "partnerhub"  # the tag comes from kustomize `images:`
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    assert env["HTTP_HOST"]["value"] == "0.0.0.0"
    assert env["HTTP_PORT"]["value"] == "8000"
    assert env["MONGODB_URL"]["valueFrom"]["secretKeyRef"]["name"] == "partnerhub-secrets"
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "partnerhub-secrets"
    keys_dir = str(Path(env["API_KEYS_FILE"]["value"]).parent)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == keys_dir]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "partnerhub-api-keys"
    assert [s["configMapRef"]["name"] for s in container["envFrom"]] == [
        "partnerhub-config",
        f"partnerhub-{service}-config",
    ]
    # A Service, a PodDisruptionBudget and (but for a singleton) a ScaledObject for the same pods.
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert _one(documents, "Service")["spec"]["selector"] == labels
    assert _one(documents, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == labels
    if service in SINGLETONS:
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert not [d for d in documents if d["kind"] == "ScaledObject"]
        return
    assert "replicas" not in deployment["spec"], "the ScaledObject (or HPA) owns the count"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    scaled = _one(documents, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == f"partnerhub-{service}"
    if service in CONSUMERS:
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == service  # the services' default group


def test_the_portal_has_a_hardened_deployment_without_store_or_kafka_credentials() -> None:
    documents = _base("portal")
    deployment = _one(documents, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    _check_pod_security("portal", pod)
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "services.portal"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    assert "MONGODB_URL" not in env, "the portal holds no data"
    secret = env["PORTAL_SESSION_SECRET"]["valueFrom"]["secretKeyRef"]
    assert (secret["name"], secret["key"]) == ("partnerhub-portal", "session-secret")
    assert deployment["spec"]["replicas"] >= 2, "sessions are cookies: any replica serves them"
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert _one(documents, "Service")["spec"]["selector"] == labels
    kustomization = _yaml(DEPLOY / "k8s/base/kustomization.yaml")
    generated = {g["name"]: g["literals"] for g in kustomization["configMapGenerator"]}
    own = dict(literal.split("=", 1) for literal in generated["partnerhub-portal-config"])
    for service in SERVICES:
        assert own[f"{service.upper()}_URL"] == f"http://partnerhub-{service}:8000"


def test_notifications_runs_one_replica_that_nothing_scales() -> None:
    """Its delivery worker is a singleton: one pod, replaced by Recreate, no autoscaler."""
    deployment = _one(_base("notifications"), "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    scaled_anywhere = [
        d["spec"]["scaleTargetRef"]["name"]
        for path in sorted((DEPLOY / "k8s").rglob("*.yaml"))
        for d in _documents(path)
        if isinstance(d, dict) and d.get("kind") in {"ScaledObject", "HorizontalPodAutoscaler"}
    ]
    assert "partnerhub-notifications" not in scaled_anywhere
    # components/hpa has an HPA for every other service: leaving notifications out is deliberate.
    hpas = _documents(DEPLOY / "k8s/components/hpa/hpa.yaml")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas} == {
        f"partnerhub-{service}" for service in SERVICES if service not in SINGLETONS
    }


def test_notifications_reads_its_smtp_url_and_secret_from_a_secret() -> None:
    (container,) = _one(_base("notifications"), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e for e in container["env"]}
    for variable, key in (("SMTP_URL", "smtp-url"), ("NOTIFICATIONS_SECRET", "signing-secret")):
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("partnerhub-notifications", key), variable
        assert not ref.get("optional", False), f"{variable}: a pod without it must not start"
    kustomization = _yaml(DEPLOY / "k8s/base/kustomization.yaml")
    generated = {g["name"]: g["literals"] for g in kustomization["configMapGenerator"]}
    own = dict(literal.split("=", 1) for literal in generated["partnerhub-notifications-config"])
    assert own["WEBHOOK_ALLOW_PRIVATE"] == "false"
    assert not {"SMTP_URL", "NOTIFICATIONS_SECRET"} & set(own), "secrets belong in a Secret"


def test_the_base_configures_each_service_from_config_maps() -> None:
    kustomization = _yaml(DEPLOY / "k8s/base/kustomization.yaml")
    generated = {g["name"]: g["literals"] for g in kustomization["configMapGenerator"]}
    shared = dict(literal.split("=", 1) for literal in generated["partnerhub-config"])
    assert {"KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PARTITIONS"} <= set(shared)
    assert shared["LOG_FORMAT"] == "json"
    for service in SERVICES:
        assert f"{service}.yaml" in kustomization["resources"]
        own = dict(literal.split("=", 1) for literal in generated[f"partnerhub-{service}-config"])
        assert own["MONGODB_DATABASE"] == f"partnerhub_{service}"
    assert kustomization["images"][0]["name"] == "partnerhub"


def test_the_jobs_create_the_topics_and_rebuild_reporting_hardened() -> None:
    topics = _one(_base("topics-job"), "Job")
    pod = topics["spec"]["template"]["spec"]
    _check_pod_security("create-topics", pod)
    assert pod["containers"][0]["command"][:5] == [
        "python",
        "-m",
        "shared.infra",
        "ready",
        "--create-topics",
    ]
    rebuild = _one(_documents(DEPLOY / "k8s/components/reporting-rebuild/job/job.yaml"), "Job")
    pod = rebuild["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["python", "-m", "services.reporting", "rebuild"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_every_checkov_skip_says_why() -> None:
    lines = (DEPLOY / "k8s/.checkov.yaml").read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s*- CKV", line)]
    assert skips
    for i in skips:
        reason = lines[i - 1].strip()
        assert reason.startswith("# "), lines[i]
        assert len(reason) > 40, lines[i]
