"""ECR repositories of one region: encryption, scanning, policy rights and registry replication.

Replication is configured once per registry (account and region); each rule copies the images
of the repositories its filters match (all of them when it has none) to other regions or
registries, so the flow is drawn from each matching repository.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import READ, attempt, clean, paginate
from auditor.inventories.aws.facts import (
    AWS_MANAGED,
    AWS_OWNED,
    encrypted_by,
    kms_key_facts,
    resource_policy_rights,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("ecr", "DescribeRepositories"): "ecr:DescribeRepositories",
    ("ecr", "GetRepositoryPolicy"): "ecr:GetRepositoryPolicy",
    ("ecr", "DescribeRegistry"): "ecr:DescribeRegistry",
    ("ecr", "GetRegistryPolicy"): "ecr:GetRegistryPolicy",
    ("ecr", "ListTagsForResource"): "ecr:ListTagsForResource",
}

NATIVE_TYPE = "ecr:repository"
# The key ECR uses when KMS encryption names none.
DEFAULT_ECR_KEY = "alias/aws/ecr"


# --- get ------------------------------------------------------------------------------------


def get_repository(client: Any, repo: Mapping[str, Any]) -> dict[str, Any]:
    """Read the policy and tags of one repository, each captured apart."""
    name, arn = str(repo["repositoryName"]), str(repo["repositoryArn"])
    return {
        "repository": repo,
        "policy": attempt(
            partial(client.get_repository_policy, repositoryName=name),
            {"RepositoryPolicyNotFoundException"},
            required=("policyText",),
        ),
        "tags": attempt(partial(client.list_tags_for_resource, resourceArn=arn)),
    }


def get_ecr(client: Any, region: str) -> dict[str, Any]:
    """The region's registry settings and repositories; a denied listing raises (→ coverage)."""
    repositories = clean(paginate(client, "describe_repositories", "repositories"))
    return {
        "region": region,
        "registry": attempt(client.describe_registry),
        "registry_policy": attempt(
            client.get_registry_policy,
            {"RegistryPolicyNotFoundException"},
            required=("policyText",),
        ),
        "repositories": [get_repository(client, r) for r in repositories],
    }


# --- transform (pure) -----------------------------------------------------------------------


def rule_matches(rule: Mapping[str, Any], name: str) -> bool:
    """Whether a replication rule covers repository `name` (PREFIX_MATCH is the only filter)."""
    filters = rule.get("repositoryFilters") or []
    return not filters or any(
        f.get("filterType", "PREFIX_MATCH") == "PREFIX_MATCH" and name.startswith(str(f["filter"]))
        for f in filters
    )


def _rules(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    registry = raw["registry"]
    return list(
        registry.get("value", {}).get("replicationConfiguration", {}).get("rules", [])
        if registry["status"] == READ
        else []
    )


def _describe_filters(rule: Mapping[str, Any]) -> str:
    filters = rule.get("repositoryFilters") or []
    if not filters:
        return "all repositories"
    return ", ".join(f"{f.get('filterType', 'PREFIX_MATCH')} '{f['filter']}'" for f in filters)


@dataclass(frozen=True)
class Replication:
    """One destination a registry replication rule sends a repository's images to."""

    rule_index: int
    rule: Mapping[str, Any]
    region: str
    registry_id: str
    arn: str


def replications(
    rules: Sequence[Mapping[str, Any]], name: str, region: str, registry_id: str, partition: str
) -> Iterator[Replication]:
    """Every destination of every rule that matches repository `name`."""
    for index, rule in enumerate(rules):
        if not rule_matches(rule, name):
            continue
        for dest in rule.get("destinations", []):
            dest_region, dest_registry = str(dest["region"]), str(dest["registryId"])
            if (dest_region, dest_registry) == (region, registry_id):
                continue  # ECR does not replicate a registry onto itself
            arn = f"arn:{partition}:ecr:{dest_region}:{dest_registry}:repository/{name}"
            yield Replication(index, rule, dest_region, dest_registry, arn)


def _replication_edge(uid: str, account: str, region: str, rep: Replication) -> Edge:
    return Edge(
        uid,
        rep.arn,
        Relation.REPLICATES_TO,
        f"ECR registry replication rule #{rep.rule_index} of registry {account} in {region} "
        f"({_describe_filters(rep.rule)}) → {rep.region}, registry {rep.registry_id} "
        "(DescribeRegistry replicationConfiguration)",
    )


def _encryption(
    repo: Mapping[str, Any], region: str, account: str, partition: str, aliases: Mapping[str, str]
) -> dict[str, Any]:
    config = repo.get("encryptionConfiguration") or {}
    kind = config.get("encryptionType", "AES256")
    if kind == "AES256":
        key: dict[str, Any] = {"kms_key_arn": None, "key_owner": AWS_OWNED}
    else:
        named = config.get("kmsKey")
        key = kms_key_facts(named or DEFAULT_ECR_KEY, region, account, partition, aliases)
        key["key_owner"] = key["key_owner"] if named else AWS_MANAGED
    return {
        "encryption_status": READ,  # part of DescribeRepositories
        "encrypted": True,
        "encryption_type": kind,
        "kms_key": config.get("kmsKey"),
        **key,
    }


def _policy(fact: Mapping[str, Any]) -> str | None:
    return str(fact["value"]["policyText"]) if fact["status"] == READ else None


def _rights(
    repo: Mapping[str, Any], uid: str, raw: Mapping[str, Any], registry_id: str
) -> tuple[list[Edge], str, str]:
    """Rights from the repository policy and the registry policy (scoped by its Resource)."""
    fact = repo["policy"]
    label = f"repository policy of {uid}"
    own, status = resource_policy_rights(fact["status"], _policy(fact), uid, label, "ecr")
    label = f"registry policy of {registry_id} in {raw['region']}"
    fact = raw["registry_policy"]
    registry, registry_status = resource_policy_rights(
        fact["status"], _policy(fact), uid, label, "ecr"
    )
    return [*own, *registry], status, registry_status


def transform_repository(
    repo_raw: Mapping[str, Any],
    raw: Mapping[str, Any],
    partition: str,
    aliases: Mapping[str, str],
) -> Iterator[Resource | Edge]:
    """One repository → its Resource, `replicates_to`, `encrypted_by` and rights edges."""
    repo = repo_raw["repository"]
    region, uid, name = str(raw["region"]), str(repo["repositoryArn"]), str(repo["repositoryName"])
    account = str(repo.get("registryId") or uid.split(":")[4])
    rights, policy_status, registry_policy_status = _rights(repo_raw, uid, raw, account)
    destinations = list(replications(_rules(raw), name, region, account, partition))
    attrs: dict[str, Any] = {
        "registry_id": account,
        "repository_uri": repo.get("repositoryUri"),
        **_encryption(repo, region, account, partition, aliases),
        "image_scanning": {
            "scan_on_push": (repo.get("imageScanningConfiguration") or {}).get("scanOnPush")
        },
        "image_tag_mutability": repo.get("imageTagMutability"),
        "policy_status": policy_status,
        "policy": _policy(repo_raw["policy"]),
        "registry_policy_status": registry_policy_status,
        "registry_policy": _policy(raw["registry_policy"]),
        "replication_status": raw["registry"]["status"],
        "replication_destinations": [
            {"rule": rep.rule_index, "region": rep.region, "registry_id": rep.registry_id}
            for rep in destinations
        ],
        "tags_status": repo_raw["tags"]["status"],
    }
    tags = repo_raw["tags"].get("value", {}).get("tags", [])
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.REPOSITORY,
        native_type=NATIVE_TYPE,
        name=name,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags={str(t["Key"]): str(t["Value"]) for t in tags},
        attrs=attrs,
    )
    for rep in destinations:
        yield _replication_edge(uid, account, region, rep)
    evidence = (
        f"repository {uid} is encrypted with {attrs['kms_key'] or DEFAULT_ECR_KEY} "
        "(DescribeRepositories encryptionConfiguration.kmsKey)"
    )
    yield from encrypted_by(uid, attrs, evidence)
    yield from rights


def transform_ecr(
    raw: Mapping[str, Any], partition: str, aliases: Mapping[str, str] | None = None
) -> Iterator[Resource | Edge]:
    """Every repository of one region's raw listing → resources and edges."""
    for repo in raw["repositories"]:
        yield from transform_repository(repo, raw, partition, aliases or {})


def collect(ctx: ServiceContext) -> Collected:
    """ECR repositories of one region, with the registry's replication rules and policy."""
    raw = get_ecr(ctx.clients.get("ecr", ctx.region), ctx.region)
    records: list[Record] = list(transform_ecr(raw, ctx.identity.partition, ctx.facts.aliases()))
    return records, f"{len(raw['repositories'])} repositories"


SERVICE = Service("ecr", Scope.REGIONAL, collect, OPERATIONS, phase=1)
