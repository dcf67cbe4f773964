"""Ask the local SageMaker runtime to serve another model (`POST /_local/model`), as UpdateEndpoint
moves an endpoint on AWS: the model loads beside the one serving, then answers every new request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL_SWAP_PATH = "/_local/model"


def swap_model(runtime_url: str, model_dir: Path, timeout_s: float = 120.0) -> dict[str, Any]:
    """The runtime's answer (`model_version`, `model_dir`); RuntimeError when it kept its model."""
    import requests

    answer = requests.post(
        f"{runtime_url.rstrip('/')}{MODEL_SWAP_PATH}",
        json={"model_dir": str(model_dir.resolve())},
        timeout=timeout_s,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"the local endpoint kept its model: {answer.text.strip()}")
    swapped: dict[str, Any] = answer.json()
    return swapped
