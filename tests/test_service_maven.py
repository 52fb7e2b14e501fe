"""scripts/lib/maven.sh, the one download of the JVM services' jars (Kafka's for kafka.sh,
ZooKeeper's for clickhouse-cluster.sh; each had its own copy of the pom, the Maven call, the
checks and the stamp): a cache stamped complete is reused without Maven, a failed download leaves
nothing half-made, and a good one is stamped last. Maven itself is a stand-in script here; the
real download from Maven Central was run by hand with a private RUMOUR_CACHE_DIR."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAVEN = ROOT / "scripts" / "lib" / "maven.sh"


def bash(script: str, path: str) -> subprocess.CompletedProcess:
    prelude = f'say() {{ echo "[t] $*"; }}; die() {{ echo "[t] ERROR: $*" >&2; exit 1; }}; source {MAVEN}; '
    return subprocess.run(["bash", "-c", f"set -euo pipefail; {prelude}{script}"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PATH": path})


def fake_mvn(folder: Path, body: str) -> str:
    """A PATH whose ``mvn`` runs ``body`` (its arguments in "$@"), then the system's."""
    folder.mkdir()
    (folder / "mvn").write_text("#!/usr/bin/env bash\n" + body)
    (folder / "mvn").chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def test_a_complete_cache_is_used_as_it_is_without_maven(tmp_path):
    cache = tmp_path / "kafka" / "4.1.1"
    (cache / "libs").mkdir(parents=True)
    (cache / ".complete").touch()
    path = fake_mvn(tmp_path / "bin", "echo called >" + str(tmp_path / "called") + "\nexit 1\n")
    done = bash(f"maven_jars {cache} Kafka kafka_2.13-4.1.1.jar org.apache.kafka:kafka_2.13:4.1.1", path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "called").exists() and done.stdout == ""


def test_a_failed_download_says_so_and_leaves_nothing_half_made(tmp_path):
    cache = tmp_path / "zookeeper" / "3.8.4"
    path = fake_mvn(tmp_path / "bin", 'for a; do case "$a" in -DoutputDirectory=*) mkdir -p "${a#*=}"; '
                                      'touch "${a#*=}/half.jar";; esac; done\necho "Could not transfer" \nexit 1\n')
    done = bash(f"maven_jars {cache} 'ZooKeeper 3.8.4' zookeeper-3.8.4.jar org.apache.zookeeper:zookeeper:3.8.4", path)
    assert done.returncode == 1
    assert "Could not transfer" in done.stderr
    assert f"maven could not collect the ZooKeeper 3.8.4 jars (full log: {cache}/mvn.log)" in done.stderr
    assert not (cache / ".complete").exists() and not (cache / "libs").exists()


def test_a_download_without_the_main_jar_is_refused_and_a_good_one_stamped_last(tmp_path):
    cache = tmp_path / "zookeeper" / "3.8.4"
    # Maven is asked for every coordinate (one pom), with checksums enforced.
    body = ('printf "%s\\n" "$@" >' + str(tmp_path / "args") + '\n'
            'for a; do case "$a" in -DoutputDirectory=*) mkdir -p "${a#*=}"; touch "${a#*=}/$JAR";; esac; done\n')
    path = fake_mvn(tmp_path / "bin", body)
    call = (f"maven_jars {cache} 'ZooKeeper 3.8.4' zookeeper-3.8.4.jar org.apache.zookeeper:zookeeper:3.8.4 "
            "org.xerial.snappy:snappy-java:1.1.10.5")
    done = bash("JAR=other.jar; export JAR; " + call, path)
    assert done.returncode == 1 and "zookeeper-3.8.4.jar missing after the download" in done.stderr
    assert not (cache / ".complete").exists()
    done = bash("JAR=zookeeper-3.8.4.jar; export JAR; " + call, path)
    assert done.returncode == 0, done.stderr
    assert (cache / ".complete").exists() and (cache / "libs" / "zookeeper-3.8.4.jar").exists()
    assert not (cache / "libs.tmp").exists()
    assert "--strict-checksums" in (tmp_path / "args").read_text().split()
    pom = (cache / "pom.xml").read_text()
    assert re.findall(r"<artifactId>([^<]+)</artifactId><version>([^<]+)</version>", pom) == [
        ("zookeeper", "3.8.4"), ("snappy-java", "1.1.10.5")]


def test_kafka_and_the_cluster_collect_their_jars_through_the_one_function():
    # Each script had its own pom and Maven call (`duplicates` paired them): one copy now.
    for script in ("kafka.sh", "clickhouse-cluster.sh"):
        text = (ROOT / "scripts" / "services" / script).read_text()
        assert 'source "$ROOT/scripts/lib/maven.sh"' in text and "maven_jars " in text, script
        assert "copy-dependencies" not in text and "<dependency>" not in text, script
