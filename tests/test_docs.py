"""The README is part of the product: it must list what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from auditor.checking import load_checks
from auditor.inventories.aws import PERMISSIONS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def test_every_check_has_a_row_in_the_readme():
    rows = set(re.findall(r"^\| ([A-Z]+-\d{3}) \|", README, flags=re.MULTILINE))
    assert {c.meta.id for c in load_checks()} == rows


def test_every_permission_the_adapter_needs_is_in_the_readme():
    missing = [p for p in PERMISSIONS if f'"{p}"' not in README]
    assert not missing, f"README's IAM policy lacks {missing}"


def test_the_two_commands_exist_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text("utf-8")
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE)
        assert f"make {target}" in README
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "make test" in ci


def test_exit_codes_in_the_readme_match_the_code():
    from auditor import cli
    from auditor.errors import CollectionError, PolicyError, StoreError

    documented = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README, flags=re.MULTILINE))
    assert {0, 1, 2, 3, 4, 5, 130} == {int(c) for c in documented}
    assert cli.EXIT_FINDINGS == 1
    assert PolicyError.exit_code == 2
    assert CollectionError.exit_code == 3
    assert StoreError.exit_code == 4
    assert cli.EXIT_INTERNAL == 5


def test_every_package_is_listed_for_the_wheel():
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    mapped = {
        line.split("=")[0].strip(): line.split("=")[1].strip()
        for line in config["options"]["package_dir"].strip().splitlines()
    }
    found = {"auditor." + p.parent.name for p in (ROOT / "auditor").glob("*/__init__.py")}
    for package, folder in mapped.items():
        found |= {
            package + "." + p.parent.relative_to(ROOT / folder).as_posix().replace("/", ".")
            for p in (ROOT / folder).glob("*/__init__.py")
        }
    assert found <= listed, f"add to setup.cfg packages: {sorted(found - listed)}"
