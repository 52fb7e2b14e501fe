"""docker-compose.yml read as an operator would (no Docker engine here): every RUMOUR_* variable it
sets is a setting, and what the worker's container writes to (its volume mounts, its data
folder) is writable by the image's `rumour` user."""
from __future__ import annotations

import re

import pytest

from streams.settings import all_settings
from tests.conftest import PROJECT_ROOT

DOCKERFILE = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")


def compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_every_rumour_variable_the_compose_file_sets_is_a_setting():
    known = {s.env for s in all_settings()}
    for name, service in compose()["services"].items():
        for var in service.get("environment") or {}:
            if var.startswith("RUMOUR_"):
                assert var in known, f"{name}: {var} is no setting (a typo is silently ignored)"


def created_for_rumour() -> set[str]:
    """Folders the image creates owned by the `rumour` user: its home, and those made with
    `install -d -o rumour`."""
    home = re.search(r"useradd .*--home-dir (\S+) --create-home rumour", DOCKERFILE).group(1)
    made = set()
    for args in re.findall(r"install -d -o rumour -g rumour ([^&\n\\]+)", DOCKERFILE):
        made.update(args.split())
    return {home} | made


def test_the_workers_volumes_start_owned_by_the_rumour_user():
    # A named volume mounted where the image has no folder starts empty and owned by root: the
    # worker (USER rumour) could not create the tokens file in /var/lib/rumour/secrets.
    worker = compose()["services"]["worker"]
    made = created_for_rumour()
    for mount in worker.get("volumes", []):
        source, target = mount.split(":")[:2]
        if not source.startswith((".", "/")):  # a named volume
            assert target in made, f"{target}: not created for the rumour user in deploy/Dockerfile"
    data_dir = worker["environment"]["RUMOUR_DATA_DIR"]
    assert any(data_dir == d or data_dir.startswith(d + "/") for d in made), data_dir
    assert re.search(r"^USER rumour$", DOCKERFILE, re.M)


# When each base image the deployment names stops getting fixes (the projects' published
# schedules). The Node.js stage was still node:20 after 20's end (2026-04-30): an image missing
# here, or past its date, fails, so moving to another image means looking its date up.
SUPPORT_ENDS = {
    "node:26-trixie-slim": "2029-04-30",  # Node.js 26 LTS; Debian 13 security support 2028-08
    "python:3.11-slim-trixie": "2027-10-31",  # CPython 3.11 (trixie outlives it)
    # Past Kafka's bug-fix window (the last three minors) once 4.4 came out, but the version the
    # suite runs (test_kafka_image_is_the_one_the_tests_run): moving both is left open.
    "apache/kafka:4.1.1": None,
    "clickhouse/clickhouse-server:26.8": "2027-08-31",  # LTS: a year of fixes
    "clickhouse/clickhouse-keeper:26.8": "2027-08-31",  # the server's release line and tags
    "grafana/grafana:12.4.5": "2027-05-31",  # the last minor of Grafana 12: 15 months
}


def images() -> list[str]:
    found = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M)
    found += [s["image"] for s in compose()["services"].values()
              if "image" in s and not s["image"].startswith("rumour-trace:")]
    return found


# The day SUPPORT_ENDS was last checked against the projects' schedules. The test judges the
# images against that day, not against the clock: a suite that starts failing on a calendar date,
# with no change to the code, would break every fresh clone's CI at once. Past an image's date,
# a warning says so (pytest prints it) until someone moves the image and this day on.
SUPPORT_CHECKED_ON = "2026-11-30"


def test_every_base_image_was_supported_when_checked():
    import datetime
    import warnings

    today = datetime.date.today().isoformat()
    for image in images():
        assert image in SUPPORT_ENDS, f"{image}: no end of support known (add it to SUPPORT_ENDS)"
        ends = SUPPORT_ENDS[image]
        assert ends is None or ends > SUPPORT_CHECKED_ON, f"{image}: support ended {ends}"
        if ends is not None and ends <= today:
            warnings.warn(f"{image}: support ended {ends}; move it on and SUPPORT_CHECKED_ON with it")
    assert not any("bookworm" in image for image in images())  # Debian 12: security support ended 2026-06-10


def test_kafka_image_is_the_one_the_tests_run():
    # The broker image stays the version the test services run (scripts/services/kafka.sh), so
    # what production runs is what the suite tested; moving it means moving both.
    script = (PROJECT_ROOT / "scripts" / "services" / "kafka.sh").read_text(encoding="utf-8")
    tested = re.search(r'VERSION="\$\{RUMOUR_KAFKA_VERSION:-([0-9.]+)\}"', script).group(1)
    brokers = [s for name, s in compose()["services"].items() if re.fullmatch(r"kafka(-\d+)?", name)]
    assert brokers and {s["image"] for s in brokers} == {f"apache/kafka:{tested}"}
