"""Validate rendered Kubernetes manifests offline (deploy/check.sh runs it in its ops virtualenv).

    python deploy/validate_manifests.py --kubernetes-version 1.30 [...] --alerts ALERTS RENDERED.yaml...

Every resource of a core kind is validated against the Kubernetes OpenAPI
schemas that the ``kubernetes-validate`` package ships (strict: unknown fields
are errors), for each version given. The custom resources of KEDA and the
Prometheus Operator have no schema there: they are named as skipped, and
checked instead for what would break them silently — a ScaledObject or HPA
whose target Deployment is not in the same rendering or is a singleton
(strategy Recreate, as notifications: exactly one replica), a TriggerAuthentication
nobody uses, a ServiceMonitor that selects no Service, a PrometheusRule whose
groups differ from deploy/prometheus/alerts.yml or that promtool rejects.
Across every file: each namespaced resource has a namespace, and each
ConfigMap a workload reads is in the rendering (Secrets are created outside
the manifests; the ones referenced are listed).

Exit status 0 when every file passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

#: Custom resources that the manifests use on purpose; anything else without a schema fails.
CUSTOM_KINDS = {
    ("keda.sh", "ScaledObject"),
    ("keda.sh", "TriggerAuthentication"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}

Resource = dict[str, Any]


def group_of(resource: Resource) -> str:
    api_version = str(resource.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def name_of(resource: Resource) -> str:
    return f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"


def pod_specs(resource: Resource) -> Iterator[Resource]:
    spec = resource.get("spec", {})
    if resource["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        yield spec["template"]["spec"]
    elif resource["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class Check:
    def __init__(self, versions: list[str], alerts: Path, promtool: str) -> None:
        self.versions = versions
        self.alert_groups = yaml.safe_load(alerts.read_text())["groups"]
        self.promtool = promtool
        self.failures: list[str] = []
        self.secrets: set[str] = set()

    def fail(self, where: str, message: str) -> None:
        self.failures.append(f"{where}: {message}")

    def file(self, path: Path) -> None:
        resources = [r for r in yaml.safe_load_all(path.read_text()) if r]
        if not resources:
            self.fail(str(path), "renders no resource")
        by_kind: dict[str, list[Resource]] = {}
        for resource in resources:
            by_kind.setdefault(resource["kind"], []).append(resource)
        validated = skipped = 0
        for resource in resources:
            where = f"{path.name}: {name_of(resource)}"
            if resource["kind"] not in CLUSTER_SCOPED and not resource["metadata"].get("namespace"):
                self.fail(where, "has no namespace")
            if (group_of(resource), resource["kind"]) in CUSTOM_KINDS:
                print(f"  skip schema of {name_of(resource)}: custom resource, no schema offline")
                self.custom(where, resource, by_kind)
                skipped += 1
                continue
            for version in self.versions:
                try:
                    kubernetes_validate.validate(resource, version, strict=True)
                except kubernetes_validate.SchemaNotFoundError:
                    self.fail(where, f"no Kubernetes {version} schema for {resource['apiVersion']}")
                except kubernetes_validate.ValidationError as exc:
                    at = ".".join(str(p) for p in exc.path) or "(top)"
                    self.fail(where, f"Kubernetes {version}: {at}: {exc.message}")
            validated += 1
            self.references(where, resource, by_kind)
        print(
            f"  {path.name}: {validated} resources valid against Kubernetes "
            f"{', '.join(self.versions)} (strict), {skipped} custom resources checked by hand"
        )

    def references(
        self, where: str, resource: Resource, by_kind: dict[str, list[Resource]]
    ) -> None:
        config_maps = {c["metadata"]["name"] for c in by_kind.get("ConfigMap", [])}
        for pod in pod_specs(resource):
            for volume in pod.get("volumes", []):
                if "secret" in volume:
                    self.secrets.add(volume["secret"]["secretName"])
                if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                    self.fail(
                        where, f"volume reads ConfigMap {volume['configMap']['name']}, not rendered"
                    )
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                for source in container.get("envFrom", []):
                    if (
                        "configMapRef" in source
                        and source["configMapRef"]["name"] not in config_maps
                    ):
                        self.fail(
                            where,
                            f"envFrom ConfigMap {source['configMapRef']['name']}, not rendered",
                        )
                    if "secretRef" in source:
                        self.secrets.add(source["secretRef"]["name"])
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {})
                    if (
                        "configMapKeyRef" in ref
                        and ref["configMapKeyRef"]["name"] not in config_maps
                    ):
                        self.fail(
                            where,
                            f"env {env['name']} reads ConfigMap {ref['configMapKeyRef']['name']}",
                        )
                    if "secretKeyRef" in ref:
                        self.secrets.add(ref["secretKeyRef"]["name"])
        if resource["kind"] == "HorizontalPodAutoscaler":
            self.target_exists(where, resource["spec"]["scaleTargetRef"]["name"], by_kind)

    def target_exists(self, where: str, name: str, by_kind: dict[str, list[Resource]]) -> None:
        deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
        if name not in deployments:
            self.fail(where, f"scales Deployment {name}, which is not in this rendering")
        elif deployments[name]["spec"].get("strategy", {}).get("type") == "Recreate":
            # A Recreate Deployment is a singleton (notifications' delivery worker).
            self.fail(where, f"scales Deployment {name}, which must run exactly one replica")

    def custom(self, where: str, resource: Resource, by_kind: dict[str, list[Resource]]) -> None:
        kind, spec = resource["kind"], resource.get("spec", {})
        if kind == "ScaledObject":
            self.target_exists(where, spec["scaleTargetRef"]["name"], by_kind)
            auths = {a["metadata"]["name"] for a in by_kind.get("TriggerAuthentication", [])}
            for trigger in spec.get("triggers", []):
                ref = trigger.get("authenticationRef", {}).get("name")
                if ref and ref not in auths:
                    self.fail(where, f"trigger uses TriggerAuthentication {ref}, not rendered")
        elif kind == "TriggerAuthentication":
            used = {
                t.get("authenticationRef", {}).get("name")
                for s in by_kind.get("ScaledObject", [])
                for t in s["spec"].get("triggers", [])
            }
            if resource["metadata"]["name"] not in used:
                self.fail(where, "no ScaledObject uses it")
            self.secrets.update(ref["name"] for ref in spec.get("secretTargetRef", []))
        elif kind == "ServiceMonitor":
            selector = spec["selector"]["matchLabels"]
            services = [
                s
                for s in by_kind.get("Service", [])
                if matches(selector, s["metadata"].get("labels", {}))
            ]
            if not services:
                self.fail(where, "selects no Service")
            for endpoint in spec["endpoints"]:
                for service in services:
                    if endpoint["port"] not in {p.get("name") for p in service["spec"]["ports"]}:
                        self.fail(
                            where, f"port {endpoint['port']} is not a port of {name_of(service)}"
                        )
        elif kind == "PrometheusRule":
            if spec.get("groups") != self.alert_groups:
                self.fail(where, "groups differ from deploy/prometheus/alerts.yml")
            with tempfile.NamedTemporaryFile("w", suffix=".yml") as rules:
                yaml.safe_dump({"groups": spec.get("groups", [])}, rules)
                rules.flush()
                result = subprocess.run(
                    [self.promtool, "check", "rules", rules.name], capture_output=True, text=True
                )
            if result.returncode != 0:
                self.fail(where, "promtool check rules: " + (result.stdout + result.stderr).strip())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubernetes-version", action="append", required=True, dest="versions")
    parser.add_argument("--alerts", type=Path, required=True, help="deploy/prometheus/alerts.yml")
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    check = Check(args.versions, args.alerts, args.promtool)
    for path in args.files:
        check.file(path)
    if check.secrets:
        print(
            f"  Secrets referenced (created outside the manifests): {', '.join(sorted(check.secrets))}"
        )
    for failure in check.failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if check.failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
