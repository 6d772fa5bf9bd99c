"""The files source reading a drop over real SFTP (asyncssh on loopback), through dlt's filesystem resource."""

from __future__ import annotations

import dlt
import duckdb
import pytest
from dlt.common.configuration.specs import SFTPCredentials
from dlt.pipeline.exceptions import PipelineStepFailed

from sandbox.files_drop import write_drop
from sources.files import files_source
from tests.support.sftp_server import PASSWORD, USER, SFTPServer

SHOP = "testshop"


def credentials(port: int, password: str = PASSWORD) -> SFTPCredentials:
    return SFTPCredentials(sftp_port=port, sftp_username=USER, sftp_password=password, sftp_allow_agent=False,
                           sftp_look_for_keys=False)


def run(tmp_path, port: int, password: str = PASSWORD) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"files__{SHOP}", dataset_name=f"raw_files__{SHOP}", pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    pipeline.run(files_source(tenant=SHOP, bucket_url=f"sftp://127.0.0.1:{port}/drop",
                              credentials=credentials(port, password)))


def test_a_drop_over_sftp_lands_like_a_local_one(tmp_path, small_world):
    root = tmp_path / "sftp-root"
    write_drop(small_world.shop(SHOP), root / "drop", bad_rows=3)
    wholesale = small_world.shop(SHOP).channel("wholesale")
    with SFTPServer(root) as server:
        run(tmp_path, server.port)
        run(tmp_path, server.port)  # a rerun changes nothing
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        orders = con.execute(f"select count(*), count(distinct order_id) from raw_files__{SHOP}.orders").fetchone()
        quarantined = con.execute(f"select count(*) from raw_files__{SHOP}.quarantine").fetchone()[0]
    assert orders == (wholesale.height, wholesale.height)
    assert quarantined == 3


def test_wrong_sftp_password_fails_clearly(tmp_path, small_world):
    root = tmp_path / "sftp-root"
    write_drop(small_world.shop(SHOP), root / "drop")
    with SFTPServer(root) as server, pytest.raises(PipelineStepFailed) as err:
        run(tmp_path, server.port, password="wrong")
    assert "Authentication failed" in str(err.value) and "wrong" not in str(err.value).replace("wrong password", "")
