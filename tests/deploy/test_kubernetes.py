"""The Kubernetes manifests: schema-valid, hardened, and consistent with the worker and each other."""

from __future__ import annotations

import ipaddress
import math
import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from worker.settings import SettingsError, load_settings

from .artifacts import (
    KUBERNETES,
    configmap_env,
    dockerfile_stages,
    kube,
    kubernetes_resources,
    kustomization,
    lane_queue_urls,
    render,
    setting,
    setting_env_names,
    worker_container,
    yaml_documents,
)

# The oldest and the newest Kubernetes minor the manifests are checked against.
KUBERNETES_VERSIONS = ("1.30.0", "1.35.0")
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}


def _pod_spec() -> dict[str, Any]:
    return dict(kube("Deployment")["spec"]["template"]["spec"])


def _named_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_standard_resources_validate_strictly(version: str) -> None:
    checked = []
    for file_name, resource in kubernetes_resources():
        if resource["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{file_name} {resource['kind']}: {path}: {exc.message}")
        checked.append(resource["kind"])
    expected = {"Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service"}
    assert expected | {"PodDisruptionBudget", "NetworkPolicy"} <= set(checked)


def test_secret_example_validates_and_holds_only_placeholders() -> None:
    (secret,) = yaml_documents(KUBERNETES / "secret.example.yaml")
    kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
    assert "secret.example.yaml" not in kustomization()["resources"]
    for value in secret["stringData"].values():
        for token in re.findall(r'"([^"]*)"', value):
            assert token.startswith("REPLACE_WITH_"), token


def test_kustomization_lists_every_manifest() -> None:
    listed = list(kustomization()["resources"])
    assert len(listed) == len(set(listed))
    on_disk = {
        p.name
        for p in KUBERNETES.glob("*.yaml")
        if p.name != "kustomization.yaml" and not p.name.endswith(".example.yaml")
    }
    assert set(listed) == on_disk
    assert kustomization()["namespace"] == kube("Namespace")["metadata"]["name"]


def test_custom_resources_have_their_required_fields() -> None:
    monitor = kube("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"]
    assert monitor["spec"]["endpoints"] and all("port" in e for e in monitor["spec"]["endpoints"])

    rule = kube("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"]
    for group in rule["spec"]["groups"]:
        assert group["name"] and group["rules"]
        for item in group["rules"]:
            assert ("alert" in item) != ("record" in item) and item["expr"], item

    scaled = kube("ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"]
    triggers = scaled["spec"]["triggers"]
    assert triggers
    auth = kube("TriggerAuthentication")
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    assert auth["spec"]["podIdentity"]["provider"] == "aws"
    for trigger in triggers:
        assert trigger["type"] == "aws-sqs-queue"
        assert {"queueURL", "awsRegion", "queueLength"} <= set(trigger["metadata"])
        # KEDA's metadata values are strings; a YAML number here is rejected by the scaler.
        assert all(isinstance(v, str) for v in trigger["metadata"].values())
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    # Trigger names become part of the HPA's metric names: they must not collide.
    names = [trigger.get("name") for trigger in triggers]
    assert len(set(names)) == len(names), names


def test_every_configmap_key_is_a_setting_and_the_values_are_valid(
    clean_env: None,
) -> None:
    env = configmap_env()
    known = setting_env_names()
    assert not sorted(set(env) - set(known)), "unknown settings in configmap.yaml"
    try:
        load_settings(**{known[name]: value for name, value in env.items()})
    except SettingsError as exc:
        pytest.fail(f"configmap.yaml does not pass the worker's validation: {exc}")


def test_probes_are_the_workers_endpoints() -> None:
    container = worker_container()
    port = int(setting(configmap_env(), "RESEND_METRICS_PORT"))
    probes = {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in probes.values():
        assert _named_port(container, probe["httpGet"]["port"]) == port


def test_grace_period_outlasts_the_shutdown_timeout() -> None:
    timeout = float(setting(configmap_env(), "RESEND_SHUTDOWN_TIMEOUT_SECONDS"))
    assert _pod_spec()["terminationGracePeriodSeconds"] > timeout
    assert not any("preStop" in c.get("lifecycle", {}) for c in _pod_spec()["containers"])


def test_client_secrets_file_is_where_the_secret_is_mounted() -> None:
    path = setting(configmap_env(), "RESEND_CLIENT_SECRETS_FILE")
    container, pod = worker_container(), _pod_spec()
    volumes = {v["name"]: v for v in pod["volumes"]}
    candidates = []
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        assert mount.get("readOnly") is True
        assert "subPath" not in mount, "a subPath mount never sees a rotated Secret"
        for item in secret["items"]:
            candidates.append(f"{mount['mountPath'].rstrip('/')}/{item['path']}")
    assert path in candidates


def test_pod_is_locked_down() -> None:
    pod, container = _pod_spec(), worker_container()
    context = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context["capabilities"].get("add")
    # The same numeric user as the image's USER.
    (user,) = [i.value for i in dockerfile_stages()[-1] if i.keyword == "USER"]
    uid, gid = (int(x) for x in user.split(":"))
    assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid) != (0, 0)
    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert len(tmp) == 1
    assert "emptyDir" in {v["name"]: v for v in pod["volumes"]}[tmp[0]["name"]]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert kube("ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert pod["serviceAccountName"] == kube("ServiceAccount")["metadata"]["name"]


def test_settings_come_from_the_configmap() -> None:
    refs = [e["configMapRef"]["name"] for e in worker_container()["envFrom"]]
    assert refs == [kube("ConfigMap")["metadata"]["name"]]


def test_metrics_are_scraped_from_the_worker_pods() -> None:
    service, monitor = kube("Service"), kube("ServiceMonitor")
    pod_labels = kube("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    assert {e.get("path", "/metrics") for e in monitor["spec"]["endpoints"]} == {"/metrics"}
    (port,) = service["spec"]["ports"]
    assert _named_port(worker_container(), port["targetPort"]) == int(
        setting(configmap_env(), "RESEND_METRICS_PORT")
    )
    budget = kube("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_scaling_stays_within_the_cognito_quota() -> None:
    scaled, deployment = kube("ScaledObject"), kube("Deployment")
    env = configmap_env()
    annotations = scaled["metadata"]["annotations"]
    quota = float(annotations["resend-worker/cognito-quota-rps"])
    budget = float(annotations["resend-worker/cognito-budget-rps"])
    max_rps = float(setting(env, "RESEND_COGNITO_MAX_RPS"))
    expected_replicas = int(setting(env, "RESEND_EXPECTED_REPLICAS"))
    max_replicas = int(scaled["spec"]["maxReplicaCount"])
    surge = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    assert isinstance(surge, int), "a percentage surge makes the pod count unbounded here"
    most_pods = max_replicas + surge
    per_replica = max_rps / expected_replicas  # worker.rate_limit's local share
    assert budget <= quota
    # With the shared Redis limiter: one bucket of RESEND_COGNITO_MAX_RPS for the fleet.
    assert max_rps <= budget
    # Without it (or while it is unreachable): every pod brings its own local share.
    assert most_pods <= expected_replicas
    assert most_pods * per_replica <= budget
    # maxReplicaCount is the quota's arithmetic, not a guess: one more replica breaks it.
    assert math.floor(budget / per_replica) == max_replicas
    assert 1 <= int(scaled["spec"]["minReplicaCount"]) <= max_replicas
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"], "the ScaledObject owns the replica count"


def _triggers_by_lane_setting() -> dict[str, dict[str, Any]]:
    """The ScaledObject's trigger for each lane the ConfigMap configures, by its setting."""
    triggers = kube("ScaledObject")["spec"]["triggers"]
    by_url = {trigger["metadata"]["queueURL"]: trigger for trigger in triggers}
    assert len(by_url) == len(triggers), "two triggers watch the same queue"
    return {
        name: by_url[url] for name, url in lane_queue_urls(configmap_env()).items() if url in by_url
    }


def test_scaler_watches_every_queue_the_worker_drains_and_no_other() -> None:
    env = configmap_env()
    lanes = lane_queue_urls(env)
    # The shipped ConfigMap runs both lanes; each needs its backlog to count.
    assert set(lanes) == {"RESEND_QUEUE_URL", "RESEND_BULK_QUEUE_URL"}
    triggers = kube("ScaledObject")["spec"]["triggers"]
    assert sorted(t["metadata"]["queueURL"] for t in triggers) == sorted(lanes.values())
    for trigger in triggers:
        assert trigger["metadata"]["awsRegion"] == setting(env, "AWS_REGION")


def test_bulk_trigger_counts_the_backlog_one_replica_drains_at_its_share() -> None:
    scaled, env = kube("ScaledObject"), configmap_env()
    triggers = _triggers_by_lane_setting()
    interactive, bulk = triggers["RESEND_QUEUE_URL"], triggers["RESEND_BULK_QUEUE_URL"]
    # In flight counts too: a replica's held messages are part of its backlog.
    for trigger in (interactive, bulk):
        assert trigger["metadata"]["scaleOnInFlight"] == "true"
    # Interactive: what one replica holds (RESEND_CONCURRENCY in flight) plus a little waiting.
    interactive_length = int(interactive["metadata"]["queueLength"])
    assert int(setting(env, "RESEND_CONCURRENCY")) < interactive_length
    # Bulk: the backlog one replica clears in the annotated drain time at its local share.
    per_replica = float(setting(env, "RESEND_COGNITO_MAX_RPS")) / int(
        setting(env, "RESEND_EXPECTED_REPLICAS")
    )
    drain = float(scaled["metadata"]["annotations"]["resend-worker/bulk-backlog-drain-seconds"])
    bulk_length = int(bulk["metadata"]["queueLength"])
    assert bulk_length == round(per_replica * drain)
    # So a campaign scales the fleet far less eagerly than people waiting do.
    assert bulk_length > interactive_length * int(scaled["spec"]["maxReplicaCount"])


def test_no_placeholder_is_left_unrendered() -> None:
    for file_name, resource in kubernetes_resources():
        assert "${" not in yaml.safe_dump(resource), file_name


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_build_renders_every_resource_valid() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.safe_load_all(render(built.stdout)) if d]
    assert len(documents) == len(kubernetes_resources())
    namespace = kustomization()["namespace"]
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace
        if document["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/resend-worker:.+", image)


# The instance metadata service, from which a pod could borrow the node's IAM role.
METADATA_ADDRESSES = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


def _peers_reach(
    peer: dict[str, Any], address: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    block = peer.get("ipBlock")
    if block is None:
        # Pod and namespace selectors match pods, never the metadata address.
        return False
    cidr = ipaddress.ip_network(block["cidr"])
    if cidr.version != address.version or not address.subnet_of(cidr):  # type: ignore[arg-type]
        return False
    return not any(
        address.subnet_of(ipaddress.ip_network(e))  # type: ignore[arg-type]
        for e in block.get("except", [])
        if ipaddress.ip_network(e).version == address.version
    )


def test_network_policy_admits_only_the_scraper_to_the_metrics_port() -> None:
    policy = kube("NetworkPolicy")
    pod_labels = kube("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    # Namespace and pod selector in one peer: both must match, not either.
    assert peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    assert peer["podSelector"]["matchLabels"]
    (port,) = rule["ports"]
    assert port["protocol"] == "TCP"
    assert _named_port(worker_container(), port["port"]) == int(
        setting(configmap_env(), "RESEND_METRICS_PORT")
    )


def test_network_policy_lets_out_only_dns_https_and_redis() -> None:
    egress = kube("NetworkPolicy")["spec"]["egress"]
    ports = {(p["port"], p["protocol"]) for rule in egress for p in rule["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6379, "TCP")}
    for rule in egress:
        assert rule["to"], "an egress rule without peers would allow every destination"
        for peer in rule["to"]:
            for address in METADATA_ADDRESSES:
                assert not _peers_reach(peer, address), (peer, str(address))
    (dns,) = [r for r in egress if {p["port"] for p in r["ports"]} == {53}]
    assert all("ipBlock" not in peer for peer in dns["to"]), "DNS goes to the cluster's DNS pods"
    (https,) = [r for r in egress if {p["port"] for p in r["ports"]} == {443}]
    # The metadata addresses are excluded explicitly, over both address families.
    excluded = {e for peer in https["to"] for e in peer["ipBlock"].get("except", [])}
    assert {str(a) for a in METADATA_ADDRESSES} <= excluded
    (redis,) = [r for r in egress if {p["port"] for p in r["ports"]} == {6379}]
    for peer in redis["to"]:
        assert ipaddress.ip_network(peer["ipBlock"]["cidr"]).is_private


def test_network_policy_checks_can_fail() -> None:
    # The metadata check itself: an open 0.0.0.0/0 reaches it, the manifest's except does not.
    assert _peers_reach({"ipBlock": {"cidr": "0.0.0.0/0"}}, METADATA_ADDRESSES[0])
    assert _peers_reach({"ipBlock": {"cidr": "::/0"}}, METADATA_ADDRESSES[1])
    assert not _peers_reach(
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}, METADATA_ADDRESSES[0]
    )
