"""A minimal client of a Gradio app's HTTP API, speaking it as the browser does, for `convlens bench`.

One call is what the page does when a user presses a button: upload the files, join the queue, read
the event stream until the result, and download the files of the result. gradio_client does the
same, but it waits for stream messages by polling with `time.sleep(0.05)` (gradio_client/utils.py,
`get_pred_from_sse_v1plus`), which adds 50-100 ms to every call; bench reports both.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from toolkit.core.errors import ConvlensError

PROTOCOL = "sse_v3"  # gradio 5 and 6


class GradioHttpError(ConvlensError):
    """The app answered the call with an error (a gr.Error's message, or a refused request)."""


class GradioHttp:
    """Calls the endpoints of one running app; one instance per concurrent caller, like gradio_client's Client."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.root = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)
        config = self.http.get(f"{self.root}/config").raise_for_status().json()
        if config.get("protocol") != PROTOCOL:
            raise ConvlensError(f"{url} speaks gradio protocol {config.get('protocol')!r}, not {PROTOCOL!r}.")
        self.api = f"{self.root}/{config.get('api_prefix', '/gradio_api').strip('/')}"
        self.endpoints = {f"/{d['api_name']}": d["id"] for d in config["dependencies"] if d.get("api_name")}

    def close(self) -> None:
        self.http.close()

    def _upload(self, path: Path) -> dict:
        with open(path, "rb") as file:
            response = self.http.post(f"{self.api}/upload", files=[("files", (path.name, file))])
        if response.status_code != 200:
            raise GradioHttpError(f"upload of {path.name} refused ({response.status_code}): {response.text[:200]}")
        return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def _with_uploads(self, value: Any) -> Any:
        """The inputs as the page sends them: every Path uploaded first and replaced by its FileData."""
        if isinstance(value, Path):
            return self._upload(value)
        if isinstance(value, dict):
            return {key: self._with_uploads(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._with_uploads(item) for item in value]
        return value

    def _download(self, value: Any) -> Any:
        """The outputs with every file fetched, as the page does to show them; files come back as bytes."""
        if isinstance(value, dict) and value.get("meta", {}).get("_type") == "gradio.FileData" and value.get("url"):
            return self.http.get(value["url"]).raise_for_status().content
        if isinstance(value, dict):
            return {key: self._download(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._download(item) for item in value]
        return value

    def predict(self, *inputs: Any, api_name: str) -> list:
        """Calls one endpoint with `inputs` (files as `Path`s) and returns its outputs, files as bytes."""
        if api_name not in self.endpoints:
            raise ConvlensError(f"the app has no endpoint {api_name}; it has {sorted(self.endpoints)}.")
        session = uuid.uuid4().hex
        join = self.http.post(
            f"{self.api}/queue/join",
            json={
                "data": self._with_uploads(list(inputs)),
                "fn_index": self.endpoints[api_name],
                "session_hash": session,
                "event_data": None,
                "trigger_id": None,
            },
        )
        if join.status_code != 200:
            raise GradioHttpError(f"{api_name}: the queue refused the call ({join.status_code}): {join.text[:200]}")
        event = join.json()["event_id"]
        with self.http.stream("GET", f"{self.api}/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event and message.get("msg") == "process_completed":
                    if not message.get("success"):
                        output = message.get("output") or {}
                        raise GradioHttpError(f"{api_name}: {output.get('error') or 'the call failed'}")
                    return self._download(message["output"]["data"])
        raise GradioHttpError(f"{api_name}: the event stream closed before the result")
