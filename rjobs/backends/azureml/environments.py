"""The environment cells run on, as one pinned reference: an environment YAML registered under a version that hashes
its build context (unchanged context, no rebuild), or an existing azureml: reference with any label resolved now.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rjobs.backends.azureml.assets import VERSION_LENGTH, create_or_adopt
from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.core.errors import InputError
from rjobs.core.hashing import content_hash, hash_tree
from rjobs.core.naming import slug
from rjobs.core.retry import RetryPolicy
from rjobs.inputs.spec import JobSpec

log = logging.getLogger(__name__)


def environment_version(environment: Any) -> str:
    """Content hash of what the image is built from: the build context's files, or image and conda file."""
    parts: list[str] = []
    build = getattr(environment, "build", None)
    if build is not None and build.path:
        context = Path(build.path)
        if not context.is_absolute():
            context = Path(environment.base_path or ".") / context
        if context.exists():
            parts += [hash_tree(context), build.dockerfile_path or "Dockerfile"]
        else:
            parts.append(str(build.path))
    if getattr(environment, "image", None):
        parts.append(str(environment.image))
    conda = getattr(environment, "conda_file", None)
    if conda:
        parts.append(yaml.safe_dump(conda, sort_keys=True))
    if not parts:
        raise InputError(None, f"environment {environment.name}", "has no build context or image", "add build: path:")
    return content_hash(parts, VERSION_LENGTH)


def _load(loader: Callable[..., Any], source: Any, where: Path, **options: Any) -> Any:
    """An azure-ai-ml loader whose validation errors become an InputError naming the file."""
    try:
        return loader(source, **options)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise InputError(
            where, "environment", f"azure-ai-ml cannot load it ({' '.join(lines[:6])})", "fix it"
        ) from None


class Environments:
    """Resolves and registers the environment; runs once before the fan-out, through the injected RetryPolicy."""

    def __init__(self, calls: ServiceCalls, retry: RetryPolicy, environment_file: Path | None = None) -> None:
        self.calls = calls
        self.retry = retry
        self.environment_file = environment_file

    def reference(self, spec: JobSpec) -> tuple[str, bool]:
        """The pinned azureml: reference cells use, and whether this call registered a new version."""
        from azure.ai.ml import load_environment

        if self.environment_file is not None:
            if not self.environment_file.is_file():
                raise InputError(self.environment_file, None, "file not found", "pass an existing environment YAML")
            environment = _load(load_environment, self.environment_file, self.environment_file)
            return self._register(environment, self.environment_file)
        raw = spec.environment
        if isinstance(raw, Mapping):
            inline = {"name": slug(f"{spec.experiment}-env", limit=120), **raw}
            stream = io.StringIO(yaml.safe_dump(inline))
            environment = _load(load_environment, stream, spec.source, relative_origin=str(spec.source))
            return self._register(environment, spec.source)
        if isinstance(raw, str) and raw.startswith("azureml://"):
            return raw, False
        if isinstance(raw, str) and raw.startswith("azureml:"):
            body = raw[len("azureml:") :]
            if "@" in body:
                return self._pin_label(spec, *body.split("@", 1)), False
            return raw, False
        if raw is None:
            raise InputError(
                spec.source,
                "environment",
                "is missing",
                "set environment: azureml:<name>@latest or an environment YAML",
            )
        raise InputError(
            spec.source,
            "environment",
            f"{raw!r} is not an Azure ML environment",
            "use azureml:<name>:<version>, azureml:<name>@latest or an environment YAML (build: path: docker-context)",
        )

    def _get(self, **options: str) -> Any:
        get = self.calls.ml_client.environments.get
        return self.retry.call("environments.get", lambda: self.calls("environments.get", get, **options))

    def _pin_label(self, spec: JobSpec, name: str, label: str) -> str:
        """`name@latest` pinned to its version now, so every cell (and the smoke job) uses the same image."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self._get(name=name, label=label)
        except ResourceNotFoundError:
            raise InputError(
                spec.source,
                "environment",
                f"azureml:{name}@{label} does not exist in the workspace",
                "create it (az ml environment create -f environment-job.yml) or fix the name",
            ) from None
        return f"azureml:{found.name}:{found.version}"

    def _register(self, environment: Any, source: Path) -> tuple[str, bool]:
        """Create the content-hashed version unless it exists already."""
        from azure.core.exceptions import ResourceNotFoundError

        if not environment.name:
            raise InputError(source, "name", "is missing", "give the environment a name")
        version = environment_version(environment)
        reference = f"azureml:{environment.name}:{version}"
        try:
            self._get(name=environment.name, version=version)
            return reference, False
        except ResourceNotFoundError:
            pass
        environment.version = version
        operations = self.calls.ml_client.environments
        create_or_adopt(
            self.retry,
            "environments.create_or_update",
            lambda: self.calls("environments.create_or_update", operations.create_or_update, environment),
            lambda: self.calls("environments.get", operations.get, name=environment.name, version=version),
        )
        log.info("registered environment %s", reference)
        return reference, True
