"""The ClickHouse cluster of docker-compose.yml read as an operator would (no Docker engine here):
its config files (deploy/clickhouse/config.d/cluster.xml, deploy/clickhouse/keeper/keeper_config.xml)
parse, and they, the compose services and the engine's settings name the same nodes, keepers,
ports, users and cluster; a clickhouse-server 18.16 started with the same cluster section lists
the cluster and the node's macros. What only a running cluster of current servers shows
(Keeper, replication, ON CLUSTER statements) is not checked here."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from streams.store.clickhouse import parse_url
from tests.conftest import PROJECT_ROOT, unavailable
from tests.service_helpers import free_port
from tests.test_deploy_compose import compose

CLICKHOUSE = PROJECT_ROOT / "deploy" / "clickhouse"
CLUSTER_XML = CLICKHOUSE / "config.d" / "cluster.xml"
KEEPER_XML = CLICKHOUSE / "keeper" / "keeper_config.xml"
USERS_XML = CLICKHOUSE / "users.d" / "grafana.xml"
SERVER_IMAGE = "clickhouse/clickhouse-server:"
KEEPER_IMAGE = "clickhouse/clickhouse-keeper:"
NATIVE_PORT = 9000  # the server image's tcp_port (cluster.xml does not change it)


def _services(image_prefix: str) -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items()
            if s.get("image", "").startswith(image_prefix)}


def nodes() -> dict[str, dict]:
    """The ClickHouse server services, by name."""
    return _services(SERVER_IMAGE)


def keepers() -> dict[str, dict]:
    return _services(KEEPER_IMAGE)


def _xml(path):
    return ET.parse(path).getroot()


def _env_name(element: ET.Element) -> str:
    """The variable a ``from_env`` element is read from (and nothing written beside it)."""
    name = element.get("from_env")
    assert name and not (element.text or "").strip(), ET.tostring(element)
    return name


def cluster() -> tuple[str, list[list[ET.Element]]]:
    """The one cluster of remote_servers: its name and its shards' replica elements."""
    (found,) = list(_xml(CLUSTER_XML).find("remote_servers"))
    shards = []
    for shard in found:
        assert shard.tag == "shard", shard.tag
        assert shard.findtext("internal_replication") == "true"  # Replicated tables copy the rest
        shards.append(shard.findall("replica"))
    return found.tag, shards


def _mount_targets(service: dict) -> dict[str, str]:
    """target -> source of a service's volumes."""
    out = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        out[target] = source
    return out


def test_config_files_parse_as_current_servers_read_them():
    for path in (CLUSTER_XML, KEEPER_XML, USERS_XML):
        text = path.read_text(encoding="utf-8")
        for comment in re.findall(r"<!--(.*?)-->", text, re.S):
            assert "--" not in comment, path  # ClickHouse refuses the whole file for one
        assert _xml(path).tag == "clickhouse", path
    assert _xml(CLUSTER_XML).find("remote_servers").get("replace") == "true"  # no example clusters


def test_every_node_mounts_the_cluster_config_and_the_users_and_has_its_own_data():
    assert len(nodes()) >= 2
    data_volumes = []
    for name, node in nodes().items():
        assert node["hostname"] == name, name  # the name remote_servers and replication use
        mounts = _mount_targets(node)
        assert mounts["/etc/clickhouse-server/config.d/cluster.xml"] == f"./{CLUSTER_XML.relative_to(PROJECT_ROOT)}"
        assert mounts["/etc/clickhouse-server/users.d/grafana.xml"] == f"./{USERS_XML.relative_to(PROJECT_ROOT)}"
        data_volumes.append(mounts["/var/lib/clickhouse"])
        env = node["environment"]
        # the workers' user and the grafana user exist on every node, each password required
        assert env["CLICKHOUSE_USER"] == "rumour" and env["CLICKHOUSE_DB"] == "rumour"
        assert env["CLICKHOUSE_PASSWORD"] == "${RUMOUR_CLICKHOUSE_PASSWORD:?set RUMOUR_CLICKHOUSE_PASSWORD}"
        grafana_env = _env_name(_xml(USERS_XML).find("users/grafana/password"))
        assert env[grafana_env] == "${%s:?set %s}" % (grafana_env, grafana_env), name
        assert node["healthcheck"]["test"]
    assert len(set(data_volumes)) == len(data_volumes), data_volumes  # two nodes on one folder: one node


def _node_places() -> dict[str, tuple[str, str]]:
    """node -> (shard, replica) macros as the node's environment gives them."""
    macros = _xml(CLUSTER_XML).find("macros")
    shard_env, replica_env = _env_name(macros.find("shard")), _env_name(macros.find("replica"))
    places = {}
    for name, node in nodes().items():
        env = node["environment"]
        shard, replica = str(env.get(shard_env, "")).strip(), str(env.get(replica_env, "")).strip()
        assert shard and replica, f"{name}: macro shard or replica empty (no {shard_env} / {replica_env})"
        places[name] = (shard, replica)
    return places


def test_macros_give_each_node_a_distinct_place_and_match_remote_servers():
    places = _node_places()
    assert len(set(places.values())) == len(places), places  # two nodes, one place in Keeper
    for name, (_, replica) in places.items():
        assert replica == name  # the replica is named after its host, unique in the cluster
    by_shard: dict[str, set[str]] = {}
    for name, (shard, _) in places.items():
        by_shard.setdefault(shard, set()).add(name)
    _, shards = cluster()
    listed = [{r.findtext("host") for r in replicas} for replicas in shards]
    # the nodes that share a shard macro (one Keeper path) are exactly one shard of remote_servers
    assert sorted(map(sorted, by_shard.values())) == sorted(map(sorted, listed)), (by_shard, listed)
    assert len(shards) == 2 and all(len(replicas) == 2 for replicas in shards)  # 2 shards x 2 replicas


def test_remote_servers_reach_the_compose_nodes_as_the_workers_user():
    _, shards = cluster()
    hosts = [r.findtext("host") for replicas in shards for r in replicas]
    assert len(hosts) == len(set(hosts)), hosts
    assert set(hosts) == set(nodes()), (hosts, sorted(nodes()))
    assert _xml(CLUSTER_XML).find("tcp_port") is None  # NATIVE_PORT is the image's
    for replicas in shards:
        for replica in replicas:
            node = nodes()[replica.findtext("host")]
            assert int(replica.findtext("port")) == NATIVE_PORT
            # the image's entrypoint removes `default`: other nodes log in as the workers' user
            assert replica.findtext("user") == node["environment"]["CLICKHOUSE_USER"]
            assert _env_name(replica.find("password")) == "CLICKHOUSE_PASSWORD"


def test_zookeeper_section_lists_every_keeper_at_its_client_port():
    keeper_server = _xml(KEEPER_XML).find("keeper_server")
    client_port = int(keeper_server.findtext("tcp_port"))
    listed = [(n.findtext("host"), int(n.findtext("port"))) for n in _xml(CLUSTER_XML).find("zookeeper")]
    assert sorted(listed) == sorted((s["hostname"], client_port) for s in keepers().values())
    assert _xml(CLUSTER_XML).findtext("distributed_ddl/path").startswith("/clickhouse/")


def test_keeper_ids_are_unique_and_the_raft_configuration_lists_every_keeper():
    keeper_server = _xml(KEEPER_XML).find("keeper_server")
    id_env = _env_name(keeper_server.find("server_id"))
    raft = {int(s.findtext("id")): s.findtext("hostname")
            for s in keeper_server.find("raft_configuration")}
    assert len(raft) == len(keeper_server.find("raft_configuration")), "a raft id twice"
    services = keepers()
    assert len(services) == 3  # a quorum of 2 that survives one loss
    ids = {name: int(s["environment"][id_env]) for name, s in services.items()}
    assert len(set(ids.values())) == len(ids), ids
    # each keeper's id is the raft entry of its own host name, and every raft entry is a keeper
    assert raft == {ids[name]: s["hostname"] for name, s in services.items()}
    for name, s in services.items():
        assert s["hostname"] == name
        assert _mount_targets(s)["/etc/clickhouse-keeper/keeper_config.xml"] == f"./{KEEPER_XML.relative_to(PROJECT_ROOT)}"
        # the health check asks the endpoint keeper_config.xml enables
        port = keeper_server.findtext("http_control/port")
        assert any(f":{port}/ready" in part for part in s["healthcheck"]["test"]), s["healthcheck"]
    data = [_mount_targets(s)["/var/lib/clickhouse"] for s in services.values()]
    assert len(set(data)) == len(data), data
    assert all(p.startswith("/var/lib/clickhouse/") for p in (keeper_server.findtext("log_storage_path"),
                                                             keeper_server.findtext("snapshot_storage_path")))


def test_the_engine_uses_the_cluster_remote_servers_defines():
    name, _ = cluster()
    for service in ("migrate", "worker"):
        env = compose()["services"][service]["environment"]
        assert env["RUMOUR_CLICKHOUSE_CLUSTER"] == name, service
        raw = env["RUMOUR_CLICKHOUSE_URL"]
        assert "${RUMOUR_CLICKHOUSE_PASSWORD:?" in raw  # the nodes' password, from the deployer
        url = parse_url(re.sub(r"\$\{[^}]*\}", "password", raw))  # compose's interpolation
        # every node, the others as failover hosts of the first (a node down stops no worker)
        assert sorted(url["hosts"]) == sorted((name, NATIVE_PORT) for name in nodes()), url["hosts"]
        for host, _ in url["hosts"]:
            node_env = nodes()[host]["environment"]
            assert (url["user"], url["database"]) == (node_env["CLICKHOUSE_USER"], node_env["CLICKHOUSE_DB"])


def test_migrate_waits_for_every_node_and_keeper_and_nodes_for_the_keepers():
    services = compose()["services"]
    healthy = {"condition": "service_healthy"}
    waits = services["migrate"]["depends_on"]
    for name in [*nodes(), *keepers()]:
        assert waits.get(name) == healthy, name
    for name, node in nodes().items():
        assert all(node["depends_on"].get(k) == healthy for k in keepers()), name
    # Grafana reads a node of the cluster and waits for it
    yaml = pytest.importorskip("yaml")
    datasource = yaml.safe_load((PROJECT_ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
                                 / "clickhouse.yaml").read_text(encoding="utf-8"))
    (source,) = datasource["datasources"]
    assert source["jsonData"]["host"] in nodes() and source["jsonData"]["port"] == NATIVE_PORT
    assert services["grafana"]["depends_on"][source["jsonData"]["host"]] == healthy


# The elements clickhouse-server 18.16 reads in these sections (its Cluster, Macros, ZooKeeper and
# DDLWorker): the chcluster tests start 18.16 servers with the same sections, so a name only a
# current server knows (secret, or node's index attribute as an element) would not carry over.
ELEMENTS_18_16 = {
    "remote_servers": {"shard", "internal_replication", "weight", "replica", "host", "port", "user",
                       "password", "default_database", "secure", "compression"},
    "macros": {"shard", "replica"},
    "zookeeper": {"node", "host", "port", "session_timeout_ms", "operation_timeout_ms", "root", "identity"},
    "distributed_ddl": {"path", "profile"},
}


def test_cluster_sections_use_element_names_18_16_reads():
    root = _xml(CLUSTER_XML)
    assert {child.tag for child in root} == set(ELEMENTS_18_16)
    for section, known in ELEMENTS_18_16.items():
        element = root.find(section)
        # remote_servers' children are clusters, named as one likes; below them, 18.16's names
        tops = [e for c in element for e in c] if section == "remote_servers" else list(element)
        tags = {e.tag for top in tops for e in top.iter()}
        assert tags <= known, (section, tags - known)


# ---- the same sections on a private clickhouse-server 18.16 -------------------------------------
def _cluster_xml_for_18_16(target: Path, hosts: dict[str, str]) -> None:
    """cluster.xml as 18.16 reads it: root <yandex>, the node names (which resolve only on the
    compose network; 18.16 resolves them when system.clusters is read) mapped to ``hosts``."""
    tree = ET.parse(CLUSTER_XML)
    tree.getroot().tag = "yandex"
    for host in tree.getroot().iter("host"):
        host.text = hosts.get(host.text, host.text)
    target.parent.mkdir(parents=True, exist_ok=True)
    tree.write(target)


@pytest.fixture(scope="module")
def server_18_16():
    """A private 18.16 server started as the compose node ch-s2-r1 is (its macros' environment),
    with the cluster section of every node; the keepers are not there (nothing replicated runs)."""
    if shutil.which("clickhouse-server") is None and not Path("/usr/sbin/clickhouse-server").exists():
        unavailable("clickhouse-server binary")
    shm = Path("/dev/shm")
    run_dir = (shm if shm.is_dir() else Path("/tmp")) / f"rt_cluster_{uuid.uuid4().hex[:12]}"
    loopback = {name: f"127.0.0.{i}" for i, name in enumerate(sorted(nodes()), start=1)}
    _cluster_xml_for_18_16(run_dir / "clickhouse" / "config.d" / "cluster.xml", loopback)
    node = nodes()["ch-s2-r1"]["environment"]
    port = free_port()
    env = {**os.environ, "RUMOUR_RUN_DIR": str(run_dir), "RUMOUR_CLICKHOUSE_PORT": str(port),
           "RUMOUR_CLICKHOUSE_HTTP_PORT": str(free_port()), "CLICKHOUSE_PASSWORD": "pw " + uuid.uuid4().hex,
           **{k: str(v) for k, v in node.items() if k in ("SHARD", "REPLICA")}}
    script = PROJECT_ROOT / "scripts" / "services" / "clickhouse.sh"
    started = subprocess.run(["bash", str(script), "start"], env=env, capture_output=True, text=True, timeout=120)
    try:
        if started.returncode != 0:
            unavailable(f"a private clickhouse-server ({started.stderr[-500:]})")
        from clickhouse_driver import Client

        client = Client("127.0.0.1", port=port)
        yield {"client": client, "hosts": loopback, "env": env}
        client.disconnect()
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(run_dir, ignore_errors=True)


def test_18_16_reads_the_cluster_and_the_nodes_macros(server_18_16):
    client, hosts, env = server_18_16["client"], server_18_16["hosts"], server_18_16["env"]
    name, shards = cluster()
    rows = client.execute("SELECT cluster, shard_num, replica_num, host_name, port, user "
                          "FROM system.clusters ORDER BY cluster, shard_num, replica_num")
    expected = [(name, s, r, hosts[replica.findtext("host")], NATIVE_PORT, replica.findtext("user"))
                for s, replicas in enumerate(shards, start=1) for r, replica in enumerate(replicas, start=1)]
    assert rows == expected  # replace="true": no other cluster beside it
    assert dict(client.execute("SELECT macro, substitution FROM system.macros")) == {
        "shard": env["SHARD"], "replica": env["REPLICA"]}
