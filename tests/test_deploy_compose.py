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
