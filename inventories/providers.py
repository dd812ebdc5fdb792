"""Clouds other than AWS: what each needs to be reached, and how its settings are found.

AWS keeps its own options (profiles, roles, regions) because boto3 has its own configuration
chain.  Every other provider is an adapter module under `inventories/libcloud/` that
registers a `ProviderSpec` here: the settings it needs and a function that turns resolved
settings into a scope the pipeline collects.

Settings come from a cloud config file (INI; one section per cloud, `[openstack]` or
`[openstack:ministry-x]` for a second one of the same provider) and from environment variables
`GOVAUDIT_<PROVIDER>_<SETTING>` (which win, so a secret need not sit in a file).  Secrets are
held only in memory for the run: never written to the database, logs or reports.
"""

from __future__ import annotations

import configparser
import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.errors import UsageError

if TYPE_CHECKING:
    from auditor.pipeline import Scope

# Adapter modules; importing one registers its provider.
ADAPTERS: tuple[str, ...] = (
    "auditor.inventories.libcloud.s3compat",
    "auditor.inventories.libcloud.outscale",
    "auditor.inventories.libcloud.openstack",
    "auditor.inventories.libcloud.aliyun",
)
CONFIG_ENV = "GOVAUDIT_CLOUD_CONFIG"


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    required: bool = True
    secret: bool = False
    default: str | None = None


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    title: str
    settings: tuple[Setting, ...]
    # Resolved settings (label, then every setting by name) -> the scope to collect.
    build: Callable[[str, Mapping[str, str]], Scope]

    def env_name(self, setting: Setting) -> str:
        return f"GOVAUDIT_{self.name.upper()}_{setting.name.upper()}"


_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    _REGISTRY[spec.name] = spec
    return spec


def registered() -> dict[str, ProviderSpec]:
    """Every provider an adapter module registers, by name."""
    for module in ADAPTERS:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


@dataclass(frozen=True)
class CloudSettings:
    """One cloud to audit: its provider, a label for coverage and messages, its settings."""

    provider: ProviderSpec
    label: str
    values: Mapping[str, str]

    def __repr__(self) -> str:  # never show secret values, even in a traceback
        return f"CloudSettings({self.provider.name!r}, {self.label!r})"


def _sections(config: Path | None, provider: str) -> list[tuple[str, dict[str, str]]]:
    """(label, values) of every section of the config file for `provider`."""
    if config is None:
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with config.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError as exc:
        raise UsageError(f"{config}: cloud config file not found") from exc
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"{config}: not a valid cloud config file ({first})") from exc
    found = []
    for section in parser.sections():
        name, _, label = section.partition(":")
        if name.strip() == provider:
            found.append((label.strip() or provider, dict(parser.items(section))))
    return found


def clouds(provider: str, config: Path | None) -> list[CloudSettings]:
    """The clouds of `provider` to audit: one per config section, or one from the environment.

    Raises UsageError naming the file, section and setting that is missing or unknown.
    """
    specs = registered()
    if provider not in specs:
        raise UsageError(f"unknown provider {provider!r} (known: aws, {', '.join(specs)})")
    spec = specs[provider]
    known = {s.name for s in spec.settings}
    sections = _sections(config, provider) or [(provider, {})]
    result = []
    for label, values in sections:
        where = f"{config} [{provider}{'' if label == provider else ':' + label}]"
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(
                f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        resolved: dict[str, str] = {}
        for setting in spec.settings:
            value = os.environ.get(spec.env_name(setting)) or values.get(setting.name)
            value = value if value not in (None, "") else setting.default
            if value is None and setting.required:
                source = where if config is not None else "no cloud config"
                raise UsageError(
                    f"{source}: {provider} needs {setting.name!r} "
                    f"(or environment variable {spec.env_name(setting)})"
                )
            if value is not None:
                resolved[setting.name] = value
        result.append(CloudSettings(spec, label, resolved))
    return result


def scopes(providers: Iterable[str], config: Path | None) -> list[Scope]:
    """A scope per configured cloud of every named non-AWS provider."""
    return [
        cloud.provider.build(cloud.label, cloud.values)
        for provider in providers
        for cloud in clouds(provider, config)
    ]


def default_config() -> Path | None:
    """The cloud config named by GOVAUDIT_CLOUD_CONFIG, if set."""
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else None
