"""docker-compose.yml's Kafka read as an operator would (no Docker engine here): three KRaft nodes,
each broker and controller, one quorum, every topic with three replicas and an acknowledged
write on two, and the engine's services bootstrapping from, and waiting for, all three. A real
run of the same configuration: tests/test_kafka_quorum.py."""
from __future__ import annotations

import re

from streams.settings import Settings, broker_servers
from tests.kafka_quorum import broker_properties, interpolate, kafka_nodes
from tests.test_deploy_compose import compose

# The brokers' settings that decide what a lost broker costs: replicas, and copies a write needs.
REPLICATION = {"offsets.topic.replication.factor": "3", "transaction.state.log.replication.factor": "3",
               "share.coordinator.state.topic.replication.factor": "3", "default.replication.factor": "3"}
MIN_ISR = {"transaction.state.log.min.isr": "2", "share.coordinator.state.topic.min.isr": "2",
           "min.insync.replicas": "2"}


def nodes() -> dict[str, dict]:
    return kafka_nodes(compose())


def props(service: dict) -> dict[str, str]:
    return broker_properties(service["environment"])


def engine_services() -> dict[str, dict]:
    """The services running the engine (they carry its RUMOUR_KAFKA_BROKER)."""
    return {n: s for n, s in compose()["services"].items() if "RUMOUR_KAFKA_BROKER" in (s.get("environment") or {})}


def test_three_kraft_nodes_each_broker_and_controller_in_one_quorum():
    found = nodes()
    assert len(found) == 3, sorted(found)
    ids = {name: int(props(s)["node.id"]) for name, s in found.items()}
    assert sorted(ids.values()) == [1, 2, 3], ids
    voters = {props(s)["controller.quorum.voters"] for s in found.values()}
    assert len(voters) == 1, voters  # every node must name the same quorum
    listed = dict(v.split("@") for v in voters.pop().split(","))
    for name, service in found.items():
        p = props(service)
        assert p["process.roles"] == "broker,controller", name
        host = service.get("hostname", name)
        assert host == name, name  # the name the other nodes and the clients resolve
        assert listed[str(ids[name])] == f"{host}:9093", (name, listed)  # its own id, host, controller port
        assert p["advertised.listeners"] == f"PLAINTEXT://{host}:9092", name
        assert "CONTROLLER://:9093" in p["listeners"].split(","), name
    assert len(listed) == 3
    # one cluster: formatted with the same id, running the same image
    assert len({interpolate(s["environment"]["CLUSTER_ID"]) for s in found.values()}) == 1
    assert len({s["image"] for s in found.values()}) == 1


def test_every_topic_has_three_replicas_and_a_write_needs_two():
    for name, service in nodes().items():
        p = props(service)
        assert {k: p.get(k) for k in REPLICATION} == REPLICATION, name
        assert {k: p.get(k) for k in MIN_ISR} == MIN_ISR, name
        # a replica that fell behind must not lead (it would drop acknowledged messages)
        assert p.get("unclean.leader.election.enable") == "false", name
    # min ISR below the replicas (writes go on with a broker down), at least 2 (an acknowledged
    # message is on two brokers), and the replicas no more than the brokers
    for replicas, isr in (("default.replication.factor", "min.insync.replicas"),
                          ("transaction.state.log.replication.factor", "transaction.state.log.min.isr"),
                          ("share.coordinator.state.topic.replication.factor", "share.coordinator.state.topic.min.isr")):
        assert 2 <= int(MIN_ISR[isr]) < int(REPLICATION[replicas]) <= len(nodes())


def test_each_node_keeps_its_own_volume_and_checks_its_own_broker():
    volumes = compose()["volumes"]
    seen = set()
    for name, service in nodes().items():
        [mount] = [v for v in service["volumes"] if v.endswith(":" + props(service)["log.dirs"])]
        volume = mount.split(":")[0]
        assert volume in volumes and volume not in seen, (name, volume)  # two nodes on one log dir corrupt it
        seen.add(volume)
        assert "localhost:9092" in " ".join(service["healthcheck"]["test"]), name
    assert "kafka-data" not in volumes  # the single broker's volume is not carried over


def test_the_engine_bootstraps_from_every_broker_and_creates_its_topics_as_they_are():
    brokers = {props(s)["advertised.listeners"].removeprefix("PLAINTEXT://") for s in nodes().values()}
    any_engine = next(iter(engine_services().values()))
    environ = {k: interpolate(v) for k, v in any_engine["environment"].items()}
    settings = Settings.load(environ=environ)  # the settings accept the compose values
    assert {s.removeprefix("kafka://") for s in broker_servers(settings.broker)} == brokers
    some = next(iter(nodes().values()))
    assert settings.topic_replication_factor == int(props(some)["default.replication.factor"])
    assert settings.topic_min_insync_replicas == int(props(some)["min.insync.replicas"])
    for name, service in engine_services().items():
        assert service["environment"]["RUMOUR_KAFKA_BROKER"] == any_engine["environment"]["RUMOUR_KAFKA_BROKER"], name


def test_the_workers_wait_for_every_broker():
    # The worker creates its topics with three replicas at start: refused with fewer brokers up.
    depends = compose()["services"]["worker"]["depends_on"]
    for name in nodes():
        assert depends.get(name) == {"condition": "service_healthy"}, name
    assert not [n for n in depends if re.fullmatch(r"kafka(-\d+)?", n) and n not in nodes()]
