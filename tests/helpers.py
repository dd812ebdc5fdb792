"""Builders for check tests: literal resources and edges, no cloud."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from auditor.checking import REGISTRY, CheckContext, load_checks, run_checks
from auditor.graph import build_graph
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Finding, Kind, Relation, Resource
from auditor.policy import Policy, load_policy
from tests.conftest import FIXTURES

TODAY = date(2026, 3, 1)


def policy(name: str = "minimal") -> Policy:
    return load_policy(FIXTURES / "policies" / f"{name}.yaml")


def bucket(
    name: str,
    region: str = "cn-north-1",
    account: str = "111111111111",
    tags: Mapping[str, str] | None = None,
    **attrs: Any,
) -> Resource:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    base = {
        "encryption_status": "read",
        "sse_algorithm": "AES256",
        "policy_status": "none",
        "acl_status": "read",
        "replication_status": "none",
        "tags_status": "read",
    }
    return Resource(
        uid=f"arn:{partition}:s3:::{name}",
        provider="aws",
        kind=Kind.OBJECT_STORE,
        native_type="s3:bucket",
        name=name,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=dict(tags or {}),
        attrs=base | attrs,
    )


def key(
    key_id: str,
    region: str = "cn-north-1",
    account: str = "111111111111",
    tags: Mapping[str, str] | None = None,
    **attrs: Any,
) -> Resource:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    base = {"key_manager": "CUSTOMER", "origin": "AWS_KMS", "policy_status": "read"}
    return Resource(
        uid=f"arn:{partition}:kms:{region}:{account}:key/{key_id}",
        provider="aws",
        kind=Kind.KEY,
        native_type="kms:key",
        name=key_id,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=dict(tags or {}),
        attrs=base | attrs,
    )


def role(
    name: str, account: str = "111111111111", tags: Mapping[str, str] | None = None
) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:iam::{account}:role/{name}",
        provider="aws",
        kind=Kind.ROLE,
        native_type="iam:role",
        name=name,
        account=account,
        region="global",
        partition="aws-cn",
        tags=dict(tags or {}),
        attrs={"policy_status": "read"},
    )


def edge(src: str | Resource, dst: str | Resource, relation: Relation, **conditions: Any) -> Edge:
    s = src.uid if isinstance(src, Resource) else src
    d = dst.uid if isinstance(dst, Resource) else dst
    return Edge(s, d, relation, f"test: {s} {relation.value} {d}", conditions)


def make_ctx(
    resources: Iterable[Resource], edges: Iterable[Edge] = (), pol: Policy | None = None
) -> CheckContext:
    items = {r.uid: r for r in resources}
    graph = build_graph(items.values(), edges)
    return CheckContext(items, graph, pol or policy(), {}, TODAY)


def run_one(check_id: str, ctx: CheckContext) -> dict[str, Finding]:
    """Run one check; findings by resource name (the uid's last part)."""
    load_checks()
    findings = run_checks(ctx, [REGISTRY[check_id]])
    return {f.resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]: f for f in findings}
