"""Every attack of both security rounds at once, with 16 normal clients alongside (marker `stress`):
0 failures for them, their photo p95 under 3x its quiet value, peak memory under 1.5 GB and back within
100 MB of the start afterwards. `make test-stress` runs it; docs/security.md quotes what it measured."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import attack_files
import httpx
import pytest
from test_reliability import _inputs, _mixed_load

from toolkit.bench.demo_latency import free_port, start_demo, tree_rss_mb
from toolkit.bench.gradio_http import GradioHttp, GradioHttpError
from toolkit.core.wall_time import percentile

pytestmark = pytest.mark.stress


def test_all_attacks_with_16_normal_clients(small_export, tmp_path):
    process, client, _ = start_demo(small_export, free_port())
    try:
        url = client.src.rstrip("/")
        inputs = _inputs(tmp_path / "inputs")
        quiet = _mixed_load(url, inputs, clients=16, requests=96)
        quiet_p95 = percentile(quiet["photo_ms"], 95)
        start_mb = tree_rss_mb(process.pid)
        files = [
            make(tmp_path / name)
            for name, make in [
                ("rle.bmp", attack_files.bmp_rle8_delta),
                ("chain.tif", attack_files.chained_tiff),
                ("float.tif", attack_files.float_tiff),
                ("wide.jpg", attack_files.wide_jpeg),
                ("trunc.jpg", attack_files.truncated_jpeg),
                ("big.gif", attack_files.big_gif),
                ("big.webp", attack_files.big_webp),
            ]
        ]
        stop, peak, unbounded = threading.Event(), [start_mb], []

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss_mb(process.pid))
                time.sleep(0.1)

        def decoder_attacks():
            browser = GradioHttp(url)
            while not stop.is_set():
                for path in files:
                    try:
                        browser.predict(path, "fp32", api_name="/classify_photo")
                    except GradioHttpError:
                        pass
            browser.close()

        def floods():
            config = httpx.get(f"{url}/config").json()
            fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "classify_photo")
            session = uuid.uuid4().hex
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    body = {"data": [None, "fp32"], "fn_index": fn, "session_hash": session, "event_data": None}
                    for _ in range(64):
                        client.post(f"{url}/gradio_api/queue/join", json=body)
                    time.sleep(0.5)

        def slow_connections():
            port = int(url.rsplit(":", 1)[1])
            held = []
            for _ in range(150):
                connection = socket.create_connection(("127.0.0.1", port))
                connection.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\n")
                held.append(connection)
            stop.wait(30)
            open_after = 0
            for connection in held:
                connection.settimeout(0.1)
                try:
                    open_after += connection.recv(1) != b""
                except (TimeoutError, OSError):
                    open_after += 1
                connection.close()
            if open_after:
                unbounded.append(f"{open_after} slow connections still open")

        def uploads():
            kept = []
            for number in range(20):  # distinct contents: Gradio stores equal uploads once
                answer = httpx.post(
                    f"{url}/gradio_api/upload",
                    files={"files": ("big.bin", b"%d" % number + b"x" * (19 << 20))},
                    timeout=60,
                )
                kept += answer.json() if answer.status_code == 200 else []
            total = sum(os.path.getsize(p) for p in set(kept) if os.path.exists(p))
            if total > 256 << 20:
                unbounded.append(f"upload cache {total >> 20} MB")

        workers = [threading.Thread(target=f) for f in (sample, decoder_attacks, floods, slow_connections, uploads)]
        for worker in workers:
            worker.start()
        try:
            loaded = _mixed_load(url, inputs, clients=16, requests=96)
        finally:
            stop.set()
            for worker in workers:
                worker.join(120)
        time.sleep(5)
        end_mb = tree_rss_mb(process.pid)
        loaded_p95 = percentile(loaded["photo_ms"], 95)
        print(
            f"quiet p95 {quiet_p95:.0f} ms, under attack {loaded_p95:.0f} ms; memory start {start_mb:.0f} MB, "
            f"peak {peak[0]:.0f} MB, after {end_mb:.0f} MB"
        )
        assert loaded["valid_failed"] == [] and loaded["bad_unclear"] == []
        assert loaded_p95 < 3 * quiet_p95
        assert unbounded == []
        assert peak[0] < 1536 and end_mb - start_mb < 100
    finally:
        process.terminate()
        process.wait(15)
