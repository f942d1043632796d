"""The cluster's layout (``hotline.cluster``: each part's settings, the nodes' operators, the
addresses checked before binding) and its PostgreSQL server (``hotline.postgres_process``:
persistent in a folder, a generated password, no trust), without the rest of the cluster."""

from __future__ import annotations

import shlex
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.db import make_engine
from core.settings import Settings
from hotline import cli, cluster, postgres_process
from phones.sipp import free_udp_port
from tests.cluster.conftest import two_free_ports
from tests.conftest import free_port

pytestmark = pytest.mark.postgres


def layout(tmp_path: Path, **overrides: Any) -> cluster.Layout:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "base",
        "operators": "8001,8002,8003",
        "cluster_nodes": "a=127.0.5.2, b=127.0.5.3",
        "sip_router_host": "127.0.5.1",
        "sip_router_port": 5070,
        "cluster_ami_port": 6100,
    }
    return cluster.layout(Settings(**{**values, **overrides}))


def settings_from(exports: dict[str, str]) -> dict[str, Any]:
    """Settings fields from ``HOTLINE_*`` exports (shell-quoted values)."""
    return {
        name.removeprefix("HOTLINE_").lower(): shlex.split(value)[0]
        for name, value in exports.items()
    }


def test_cluster_env_points_hotline_commands_at_the_cluster(tmp_path: Path) -> None:
    found = layout(tmp_path)
    runner = CliRunner()
    env = {"HOTLINE_DATA_DIR": str(tmp_path / "base"), "HOTLINE_CLUSTER_NODES": "a=127.0.5.2"}
    refused = runner.invoke(cli.main, ["cluster", "env"], env=env)
    assert refused.exit_code == 1 and "hotline cluster up" in refused.output
    creds = postgres_process.write_credentials(found.postgres_credentials)
    printed = runner.invoke(cli.main, ["cluster", "env"], env=env)
    assert printed.exit_code == 0, printed.output
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in printed.output.splitlines()
    )
    assert shlex.split(exports["HOTLINE_DATABASE_URL"]) == [creds.url("127.0.0.1", 5433)]
    assert exports["HOTLINE_DATA_DIR"] == str(found.root / "node-a")
    assert exports["HOTLINE_CLUSTER_DIR"] == str(found.root)
    # With those exports, 'hotline cluster' commands still find the same cluster.
    assert cluster.layout(Settings(**settings_from(exports))).root == found.root
    assert exports["HOTLINE_OBJECT_STORE_URL"] == "http://127.0.0.1:8433"
    assert exports["HOTLINE_OBJECT_STORE_CREDENTIALS"] == str(found.root / "object-store.json")
    # hotline dial calls the SIP router, not a node.
    assert (exports["HOTLINE_SIP_HOST"], exports["HOTLINE_SIP_PORT"]) == ("127.0.0.1", "5060")


def test_each_node_has_its_address_ports_and_block_of_operators(tmp_path: Path) -> None:
    found = layout(tmp_path)
    assert found.root == tmp_path / "base" / "cluster"
    a, b = found.nodes
    node_a, node_b = found.node_settings(a), found.node_settings(b)
    assert (node_a.node_name, node_a.sip_host, node_a.agi_host) == ("a", "127.0.5.2", "127.0.5.2")
    assert (node_b.node_name, node_b.sip_host, node_b.agi_host) == ("b", "127.0.5.3", "127.0.5.3")
    assert (node_a.ami_port, node_b.ami_port) == (6100, 6101)
    assert (node_a.operators, node_b.operators) == (["8001"], ["8002", "8003"])
    assert node_a.sip_router == node_b.sip_router == "127.0.5.1:5070"
    assert node_a.data_dir == found.root / "node-a"
    api = found.service_settings("api")
    assert api.sip_router_nodes == "a=127.0.5.2:5060,b=127.0.5.3:5060"
    assert api.sip_router_operators == "8001=a,8002=b,8003=b"
    assert api.object_store_url == "http://127.0.0.1:8433"
    assert api.object_store_credentials == found.root / "object-store.json"
    # Before the first 'up' there is no password, so no database URL yet.
    assert api.database_url == ""


def test_nodes_need_their_own_names_and_addresses(tmp_path: Path) -> None:
    with pytest.raises(cluster.ClusterError, match="own name"):
        layout(tmp_path, cluster_nodes="a=127.0.5.2,a=127.0.5.3")
    with pytest.raises(cluster.ClusterError, match="own address"):
        layout(tmp_path, cluster_nodes="a=127.0.5.2,b=127.0.5.2")


def test_an_address_held_by_another_process_is_refused_by_name() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.5.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(cluster.ClusterError, match=rf"127\.0\.5\.1:{port}/udp .* SIP router"):
            cluster.check_free("127.0.5.1", port, "SIP router", udp=True)
    cluster.check_free("127.0.5.1", port, "SIP router", udp=True)  # free again


def test_up_starts_nothing_while_an_address_it_needs_is_held(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.5.1", 0))
        found = layout(
            tmp_path,
            sip_router_port=holder.getsockname()[1],
            cluster_node_sip_port=free_udp_port(),
            cluster_ami_port=two_free_ports(),
            agi_port=free_port(),
            **{
                f"cluster_{part}_{field}": "127.0.5.1" if field == "host" else free_port()
                for part in ("postgres", "object_store", "asr_live", "api")
                for field in ("host", "port")
            },
        )
        with pytest.raises(cluster.ClusterError, match="SIP router is taken"):
            cluster.up(found)
    assert not found.root.exists()  # not even the database was started


@pytest.fixture
def folder() -> Iterator[Path]:
    # Outside pytest's temporary folder, which each pytest session makes owner-only.
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    try:
        yield root
    finally:
        postgres_process.stop(root / "postgres")
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_keeps_its_data_and_lets_in_only_the_password(folder: Path) -> None:
    port, credentials = free_port(), folder / "postgres.json"
    pid = postgres_process.start(folder / "postgres", "127.0.5.1", port, credentials, durable=False)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    creds = postgres_process.read_credentials(credentials)
    url = creds.url("127.0.5.1", port)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (n int)"))
        conn.execute(text("INSERT INTO kept VALUES (7)"))
    engine.dispose()
    wrong = make_engine(url.replace(creds.password, "not-the-password"))
    with pytest.raises(OperationalError, match="password authentication failed"):
        wrong.connect()
    wrong.dispose()
    nobody = make_engine(f"postgresql://postgres@127.0.5.1:{port}/postgres")
    with pytest.raises(OperationalError, match=r"no pg_hba\.conf entry"):  # no superuser by TCP
        nobody.connect()
    nobody.dispose()
    # Started again: the same server; stopped and started: the same data, the same password.
    assert postgres_process.start(folder / "postgres", "127.0.5.1", port, credentials) == pid
    postgres_process.stop(folder / "postgres")
    assert not postgres_process.running(folder / "postgres")
    postgres_process.start(folder / "postgres", "127.0.5.1", port, credentials, durable=False)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM kept")).scalar_one() == 7
    engine.dispose()
