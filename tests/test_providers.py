"""Cloud settings for non-AWS providers: config sections, environment, clear errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor.errors import UsageError
from auditor.inventories import providers
from auditor.inventories.providers import ProviderSpec, Setting
from auditor.model import Coverage, Outcome, Record


@dataclass(frozen=True)
class _Scope:
    label: str
    values: Mapping[str, str]

    def records(self) -> Iterable[Record]:
        yield Coverage("fake", self.label, "r1", "things", Outcome.OK, self.values["url"])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderSpec]:
    spec = ProviderSpec(
        "fake",
        "A fake cloud",
        (
            Setting("url", "endpoint"),
            Setting("password", "secret", secret=True),
            Setting("region", "region", required=False, default="r1"),
        ),
        lambda label, values: _Scope(label, values),
    )
    monkeypatch.setattr(providers, "_REGISTRY", {"fake": spec})
    for name in ("URL", "PASSWORD", "REGION"):
        monkeypatch.delenv(f"GOVAUDIT_FAKE_{name}", raising=False)
    yield spec


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clouds.ini"
    path.write_text(text, "utf-8")
    return path


def test_one_scope_per_section_with_defaults(fake: ProviderSpec, tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "[fake]\nurl = https://a\npassword = p1\n\n"
        "[fake:second]\nurl = https://b\npassword = p2\nregion = r9\n\n"
        "[other]\nurl = x\n",
    )
    found = providers.clouds("fake", config)
    assert [(c.label, dict(c.values)) for c in found] == [
        ("fake", {"url": "https://a", "password": "p1", "region": "r1"}),
        ("second", {"url": "https://b", "password": "p2", "region": "r9"}),
    ]
    # The repr that could reach a traceback never shows a secret.
    assert "p1" not in repr(found[0])
    rows = [list(s.records()) for s in providers.scopes(["fake"], config)]
    assert [r[0].detail for r in rows] == ["https://a", "https://b"]  # type: ignore[union-attr]


def test_environment_wins_over_the_file(
    fake: ProviderSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, "[fake]\nurl = https://a\n")
    monkeypatch.setenv("GOVAUDIT_FAKE_PASSWORD", "from-env")
    monkeypatch.setenv("GOVAUDIT_FAKE_URL", "https://env")
    (cloud,) = providers.clouds("fake", config)
    assert cloud.values["password"] == "from-env" and cloud.values["url"] == "https://env"
    # Without a file, the environment alone describes one cloud.
    (cloud,) = providers.clouds("fake", None)
    assert cloud.label == "fake" and cloud.values["region"] == "r1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[fake]\nurl = https://a\n", "[fake]: fake needs 'password' (or environment variable "),
        ("[fake:x]\nurl = a\npasword = p\n", "[fake:x]: unknown setting 'pasword'"),
        ("url = a\n", "not a valid cloud config file"),
    ],
)
def test_bad_settings_name_file_and_section(
    fake: ProviderSpec, tmp_path: Path, text: str, expected: str
) -> None:
    config = _config(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        providers.clouds("fake", config)
    message = str(caught.value)
    assert message.startswith(str(config)) and expected in message
    assert "\n" not in message


def test_missing_file_and_unknown_provider(fake: ProviderSpec, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cloud config file not found"):
        providers.clouds("fake", tmp_path / "nope.ini")
    with pytest.raises(UsageError, match="unknown provider 'azure'"):
        providers.clouds("azure", None)
