"""The check pulls the data, and only the data, from the kind of remote teams use: an S3 API on
loopback (moto's server) that holds the model and the other stage outputs too."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    BIN,
    REGRESSION_DATA,
    Project,
    make_project,
    regression_frame,
    small_params,
)
from tests.gate.conftest import reproduce_here
from tests.servers import serving

pytestmark = pytest.mark.slow

BUCKET = "dvc-remote"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask 169.254.169.254 for credentials
    "NO_PROXY": "127.0.0.1",
}


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[str]:
    """A real S3 API on loopback: moto's server, with one bucket (it records into its folder)."""
    (tmp_path / "moto").mkdir()
    with serving(
        lambda port: [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        "/moto-api/",
        env={**os.environ, **AWS},
        cwd=tmp_path / "moto",
    ) as url:
        import boto3

        boto3.client("s3", endpoint_url=url, **aws_arguments()).create_bucket(Bucket=BUCKET)
        yield url


def aws_arguments() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }


def use_remote(project: Project, url: str) -> None:
    project.dvc("remote", "add", "-f", "-d", "s3", f"s3://{BUCKET}/ratchet")
    project.dvc("remote", "modify", "--local", "s3", "endpointurl", url)


def share_models(project: Project) -> None:
    """What dvc.yaml says to do with a remote of your own: drop `push: false`, so that `dvc push`
    sends the stages' outputs, the model among them, as well as the data."""
    dvc_yaml = project.path / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace(", push: false}", "}"))


def moto(url: str, action: str) -> bytes:
    request = urllib.request.Request(
        f"{url}/moto-api/recorder/{action}",
        method="POST" if action != "download-recording" else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()  # type: ignore[no-any-return]


def test_the_check_pulls_only_the_data_though_the_remote_holds_the_model(
    s3: str, tmp_path: Path
) -> None:
    origin = make_project(tmp_path / "origin")
    use_remote(origin, s3)
    share_models(origin)
    origin.write_data(regression_frame())
    origin.set_params(small_params(REGRESSION_DATA))
    origin.dvc("add", "-q", "data")
    origin.repro()
    origin.run("dvc", "push", "-q", env=AWS)  # data, split, schema and model, all in S3
    origin.commit("trained and pushed")
    lock = yaml.safe_load(origin.read("dvc.lock"))
    outputs = {out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}
    model = next(
        out["md5"] for out in lock["stages"]["train"]["outs"] if out["path"].endswith(".joblib")
    )

    import boto3

    listing = boto3.client("s3", endpoint_url=s3, **aws_arguments()).list_objects_v2(Bucket=BUCKET)
    stored = {item["Key"] for item in listing["Contents"]}
    assert f"ratchet/files/md5/{model[:2]}/{model[2:]}" in stored

    clone = Project(tmp_path / "clone")
    origin.run("git", "clone", "-q", str(origin.path), str(clone.path))
    clone.dvc("remote", "modify", "--local", "s3", "endpointurl", s3)
    moto(s3, "start-recording")
    reproduced = reproduce_here(clone, env=AWS, real_pull=True)
    moto(s3, "stop-recording")
    assert reproduced.returncode == 0, reproduced.stderr

    requests = [json.loads(line) for line in moto(s3, "download-recording").splitlines() if line]
    fetched = {
        entry["url"].split("/files/md5/", 1)[1].replace("/", "")
        for entry in requests
        if entry["method"] == "GET" and "/files/md5/" in entry["url"]
    }
    data = yaml.safe_load(origin.read("data.dvc"))["outs"][0]["md5"]
    assert data in fetched  # the data came from S3 ...
    assert not fetched & outputs  # ... and no stage output did: each stage ran
    record = json.loads(clone.read("reports/pr/reproduction.json"))
    assert record["verdict"] == "reproduced"
