"""deploy/ rendered by the real kustomize and checked offline: every object against the
Kubernetes schemas (kubernetes-validate) or its CRD's schema (tests/deploy/schemas), the Argo CD
and Flux objects against the overlays they deploy, and the policy the manifests promise."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from ratchet.release.image import SERVICE_PORT
from ratchet.serve.prediction_log import (
    ENV_SHIP_SECONDS,
    ENV_SINK,
    ENV_SPOOL,
    ENV_SPOOL_BYTES,
    MAX_BYTES,
    SHIP_SECONDS,
    SPOOL_BYTES,
    PredictionLog,
    env_number,
)
from tests.deploy.render import DEPLOY, OVERLAYS, Object, container, only, render
from tests.serve.conftest import Served

KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
SCHEMAS = Path(__file__).parent / "schemas"
# registry[:port]/path@sha256:<64 hex>, no :tag. Upper case only for the OWNER/REPO placeholder.
DIGEST = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._-]+)+@sha256:[0-9a-f]{64}$")
REPO = "https://github.com/OWNER/REPO"


def strict(schema: Any) -> Any:
    """A CRD schema that, like `kubectl apply --validate=strict`, refuses unknown fields."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


@functools.cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    """The vendored CRD schema of a kind (schemas/<group>_<version>_<kind>.json), strict."""
    group, version = api_version.split("/")
    schema = json.loads((SCHEMAS / f"{group}_{version}_{kind.lower()}.json").read_text())
    return jsonschema.Draft7Validator(strict(schema))


def validate(obj: Object) -> None:
    """Against its CRD's schema if its API group is one of those vendored, else Kubernetes'."""
    group = obj["apiVersion"].rpartition("/")[0]
    if group in {path.name.split("_")[0] for path in SCHEMAS.glob("*.json")}:
        crd_validator(obj["apiVersion"], obj["kind"]).validate(obj)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def controller_objects() -> list[Object]:
    files = sorted(DEPLOY.glob("argocd/*.yaml")) + sorted(DEPLOY.glob("flux/*.yaml"))
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Object]]:
    """Each overlay as it ships, and with the ServiceMonitor component (`<env>+servicemonitor`)."""
    objects = {env: render(env) for env in OVERLAYS}
    for env in OVERLAYS:
        tmp = tmp_path_factory.mktemp(env)
        objects[f"{env}+servicemonitor"] = render(env, tmp, servicemonitor=True)
    return objects


def test_there_are_a_staging_and_a_production_overlay() -> None:
    assert OVERLAYS == ["production", "staging"]


@pytest.mark.parametrize("variant", [*OVERLAYS, *(f"{env}+servicemonitor" for env in OVERLAYS)])
def test_every_overlay_renders_and_every_object_validates(
    rendered: dict[str, list[Object]], variant: str
) -> None:
    objects = rendered[variant]
    kinds = sorted(obj["kind"] for obj in objects)
    expected = [
        "Deployment", "HorizontalPodAutoscaler", "Namespace", "NetworkPolicy",
        "PodDisruptionBudget", "Service", "ServiceAccount",
    ]  # fmt: skip
    assert kinds == sorted(expected + (["ServiceMonitor"] if "+" in variant else []))
    env = variant.partition("+")[0]
    for obj in objects:
        validate(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == f"ratchet-{env}", obj["kind"]


def test_the_validators_refuse_an_unknown_field(rendered: dict[str, list[Object]]) -> None:
    """Both validators are strict: a misspelt field fails, it is not ignored."""
    deployment = copy.deepcopy(only(rendered["staging"], "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        validate(deployment)
    application = copy.deepcopy(
        next(obj for obj in controller_objects() if obj["kind"] == "Application")
    )
    application["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    with pytest.raises(jsonschema.ValidationError, match="'yes' is not of type 'boolean'"):
        validate(application)
    application["spec"]["syncPolicy"]["automated"] = {"selfHeel": True}
    with pytest.raises(jsonschema.ValidationError, match="selfHeel"):
        validate(application)


def test_the_argocd_and_flux_objects_validate_against_their_crds() -> None:
    objects = controller_objects()
    assert sorted(obj["kind"] for obj in objects) == [
        "AppProject", "Application", "Application", "GitRepository", "Kustomization",
        "Kustomization",
    ]  # fmt: skip
    for obj in objects:
        validate(obj)


def test_each_overlay_has_an_argocd_application_and_a_flux_kustomization(
    rendered: dict[str, list[Object]],
) -> None:
    objects = controller_objects()
    project = next(obj for obj in objects if obj["kind"] == "AppProject")
    source = next(obj for obj in objects if obj["kind"] == "GitRepository")
    assert project["spec"]["sourceRepos"] == [REPO]
    assert source["spec"]["url"] == REPO
    assert source["spec"]["ref"] == {"branch": "main"}
    for env in OVERLAYS:
        namespace = only(rendered[env], "Namespace")["metadata"]["name"]
        app = next(o for o in objects if o["metadata"]["name"] == f"ratchet-{env}"
                   and o["kind"] == "Application")  # fmt: skip
        assert app["spec"]["project"] == project["metadata"]["name"]
        assert app["spec"]["source"] == {
            "repoURL": REPO, "targetRevision": "main", "path": f"deploy/overlays/{env}",
        }  # fmt: skip
        assert app["spec"]["destination"]["namespace"] == namespace
        assert {"server": app["spec"]["destination"]["server"], "namespace": namespace} in (
            project["spec"]["destinations"]
        )
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
        flux = next(o for o in objects if o["metadata"]["name"] == f"ratchet-{env}"
                    and o["kind"] == "Kustomization")  # fmt: skip
        assert flux["spec"]["sourceRef"] == {
            "kind": "GitRepository", "name": source["metadata"]["name"],
        }  # fmt: skip
        assert flux["spec"]["path"] == f"./deploy/overlays/{env}"
        assert flux["spec"]["prune"] is True


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_image_is_given_by_digest_never_by_tag(
    rendered: dict[str, list[Object]], env: str
) -> None:
    kustomization = yaml.safe_load((DEPLOY / f"overlays/{env}/kustomization.yaml").read_text())
    assert kustomization["images"] == [
        {
            "name": "ratchet",
            "newName": "ghcr.io/OWNER/REPO",
            "digest": kustomization["images"][0]["digest"],
        }
    ]
    image = container(rendered[env])["image"]
    assert DIGEST.match(image), f"{env}: {image} is not an image by digest"


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_ports_match_from_the_container_to_the_service_and_the_network_policy(
    rendered: dict[str, list[Object]], env: str
) -> None:
    objects = rendered[f"{env}+servicemonitor"]
    main = container(objects)
    assert main["ports"] == [{"name": "http", "containerPort": SERVICE_PORT}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert main[probe]["httpGet"]["port"] == "http", probe
    pod = only(objects, "Deployment")["spec"]["template"]
    labels = pod["metadata"]["labels"]
    service = only(objects, "Service")["spec"]
    assert service["selector"].items() <= labels.items()
    assert [(p["name"], p["targetPort"]) for p in service["ports"]] == [("http", "http")]
    policy = only(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [SERVICE_PORT]
    monitor = only(objects, "ServiceMonitor")["spec"]
    assert (
        monitor["selector"]["matchLabels"].items()
        <= only(objects, "Service")["metadata"]["labels"].items()
    )
    assert [e["port"] for e in monitor["endpoints"]] == ["http"]
    disruption = only(objects, "PodDisruptionBudget")["spec"]
    assert disruption["selector"]["matchLabels"].items() <= labels.items()


def test_the_probes_ask_paths_the_service_answers(
    rendered: dict[str, list[Object]], regression: Served
) -> None:
    """In process; tests/deploy/test_container.py asks the image, /metrics included (which needs
    `bentoml serve`'s Prometheus set-up)."""
    main = container(rendered["production"])
    probes = ("startupProbe", "readinessProbe", "livenessProbe")
    paths = sorted({main[probe]["httpGet"]["path"] for probe in probes})
    with regression.client() as client:
        answers = {path: client.get(path).status_code for path in paths}
    assert answers == {"/livez": 200, "/readyz": 200}


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_pod_runs_as_non_root_on_a_read_only_root_with_no_privileges(
    rendered: dict[str, list[Object]], env: str
) -> None:
    pod = only(rendered[env], "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    account = only(rendered[env], "ServiceAccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False
    main = container(rendered[env])
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in main["volumeMounts"]:
        assert "emptyDir" in volumes[mount["name"]], mount


@pytest.mark.parametrize("env", OVERLAYS)
def test_requests_and_limits_are_set_and_the_autoscaler_has_sane_bounds(
    rendered: dict[str, list[Object]], env: str
) -> None:
    resources = container(rendered[env])["resources"]
    for kind in ("cpu", "memory"):
        assert resources["requests"][kind] and resources["limits"][kind], kind
    hpa = only(rendered[env], "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == only(rendered[env], "Deployment")["metadata"]["name"]
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert [metric["resource"]["name"] for metric in hpa["metrics"]] == ["cpu"]
    deployment = only(rendered[env], "Deployment")["spec"]
    assert "replicas" not in deployment  # the autoscaler's to set
    if env == "production":  # one pod keeps serving while the disruption budget drains another
        assert hpa["minReplicas"] >= 2


@pytest.mark.parametrize("env", OVERLAYS)
def test_a_pod_drains_its_requests_before_it_stops(
    rendered: dict[str, list[Object]], env: str, regression: Served
) -> None:
    """The grace period covers the preStop pause, BentoML's request timeout as the service
    sets it, and the prediction log's last ship to its sink; no pod leaves before its
    successor is ready."""
    deployment = only(rendered[env], "Deployment")["spec"]
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["template"]["spec"]
    pause = container(rendered[env])["lifecycle"]["preStop"]["sleep"]["seconds"]
    timeout = regression.service.config["traffic"]["timeout"]  # BentoML's setting
    last_ship = inspect.signature(PredictionLog.close).parameters["timeout"].default
    assert pod["terminationGracePeriodSeconds"] > pause + timeout + last_ship


def size(quantity: str) -> int:
    """A Kubernetes quantity of bytes: 1Gi, 512Mi, 64Ki or a number."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    if quantity[-2:] in units:
        return int(quantity[:-2]) * units[quantity[-2:]]
    return int(quantity)


def environment(objects: list[Object]) -> dict[str, str]:
    return {variable["name"]: variable["value"] for variable in container(objects)["env"]}


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_prediction_log_spools_on_an_emptydir_larger_than_its_bound(
    rendered: dict[str, list[Object]], env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool is a volume of its own, not /tmp's, and the kubelet does not evict a pod whose
    sink is down: the emptyDir holds the outbox's bound and the file being written."""
    variables = environment(rendered[env])
    for name in (ENV_SPOOL_BYTES, ENV_SHIP_SECONDS):
        monkeypatch.setenv(name, variables[name])  # read as the service reads them
    bound = int(env_number(ENV_SPOOL_BYTES, SPOOL_BYTES))
    assert env_number(ENV_SHIP_SECONDS, SHIP_SECONDS) > 0
    [mount] = [m for m in container(rendered[env])["volumeMounts"]
               if m["mountPath"] == variables[ENV_SPOOL]]  # fmt: skip
    pod = only(rendered[env], "Deployment")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert size(volume["emptyDir"]["sizeLimit"]) > bound + MAX_BYTES


def test_each_overlay_ships_its_prediction_log_to_a_bucket_prefix_of_its_own(
    rendered: dict[str, list[Object]],
) -> None:
    """An object store (a pod's disk goes with the pod), one prefix per environment, none under
    another: the monitor reads every file under the prefix params.yaml names."""
    sinks = {env: environment(rendered[env])[ENV_SINK] for env in OVERLAYS}
    for env, sink in sinks.items():
        scheme, _, path = sink.partition("://")
        assert scheme in {"s3", "gs"}, f"{env}: {sink} is not in a bucket"
        assert PurePosixPath(path).name == env, f"{env}: {sink} does not end in /{env}"
    for env, sink in sinks.items():
        for other, elsewhere in sinks.items():
            if other != env:
                assert not (elsewhere + "/").startswith(sink + "/"), (env, other)
