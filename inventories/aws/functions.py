"""Lambda functions of one region: role, environment key, network, policy rights, public URL.

Environment variable VALUES are dropped as soon as ListFunctions answers (see
`without_environment_values`): they often hold credentials, and an auditor of metadata keeps
only their names.  The module is not called `lambda`, which is a Python keyword.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import READ, attempt, clean, paginate
from auditor.inventories.aws.facts import (
    AWS_MANAGED,
    encrypted_by,
    kms_key_facts,
    resource_policy_rights,
)
from auditor.inventories.aws.policy_rights import PUBLIC
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("lambda", "ListFunctions"): "lambda:ListFunctions",
    ("lambda", "GetPolicy"): "lambda:GetPolicy",
    ("lambda", "GetFunctionUrlConfig"): "lambda:GetFunctionUrlConfig",
    ("lambda", "ListTags"): "lambda:ListTags",
}

NATIVE_TYPE = "lambda:function"
# GetPolicy and GetFunctionUrlConfig answer this when the function has no policy / no URL.
NOT_FOUND = frozenset({"ResourceNotFoundException"})


# --- get ------------------------------------------------------------------------------------


def without_environment_values(function: Mapping[str, Any]) -> dict[str, Any]:
    """The function's configuration with environment variable names only, never values."""
    kept = {k: v for k, v in function.items() if k != "Environment"}
    environment = function.get("Environment") or {}
    kept["EnvironmentVariableNames"] = sorted(environment.get("Variables") or {})
    # The error code says why Lambda could not decrypt them; its message is left out.
    kept["EnvironmentErrorCode"] = (environment.get("Error") or {}).get("ErrorCode")
    return kept


def get_function(client: Any, function: Mapping[str, Any]) -> dict[str, Any]:
    """Read the policy, URL and tags of one function, each captured apart."""
    arn = str(function["FunctionArn"])
    return {
        "function": without_environment_values(function),
        "policy": attempt(
            partial(client.get_policy, FunctionName=arn), NOT_FOUND, required=("Policy",)
        ),
        "url": attempt(partial(client.get_function_url_config, FunctionName=arn), NOT_FOUND),
        "tags": attempt(partial(client.list_tags, Resource=arn)),
    }


def get_functions(client: Any, region: str) -> dict[str, Any]:
    """List and read every function in `region`; a denied ListFunctions raises (→ coverage)."""
    listed = clean(paginate(client, "list_functions", "Functions"))
    return {"region": region, "functions": [get_function(client, f) for f in listed]}


# --- transform (pure) -----------------------------------------------------------------------


def _encryption(function: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    configured = function.get("KMSKeyArn")
    return {
        "encryption_status": READ,  # part of ListFunctions
        "encrypted": True,  # Lambda always encrypts environment variables at rest
        "kms_key": configured,
        "kms_key_arn": key["kms_key_arn"],
        # No key named: Lambda uses the AWS-managed aws/lambda key.
        "key_owner": key["key_owner"] if configured else AWS_MANAGED,
    }


def _vpc(function: Mapping[str, Any]) -> dict[str, Any] | None:
    vpc = function.get("VpcConfig") or {}
    if not vpc.get("VpcId") and not vpc.get("SubnetIds"):
        return None
    return {
        "vpc_id": vpc.get("VpcId"),
        "subnet_ids": list(vpc.get("SubnetIds", [])),
        "security_group_ids": list(vpc.get("SecurityGroupIds", [])),
    }


def _policy(fact: Mapping[str, Any]) -> str | None:
    return str(fact["value"]["Policy"]) if fact["status"] == READ else None


def _url(fact: Mapping[str, Any]) -> dict[str, Any]:
    value = fact.get("value", {})
    return {
        "url_status": fact["status"],
        "function_url": value.get("FunctionUrl"),
        "url_auth_type": value.get("AuthType"),
    }


def _public_url(uid: str, attrs: Mapping[str, Any]) -> Iterator[Edge]:
    if attrs["url_status"] == READ and attrs["url_auth_type"] == "NONE":
        yield Edge(
            PUBLIC,
            uid,
            Relation.CAN_WRITE,
            f"function URL {attrs['function_url']} has AuthType NONE: anyone can invoke",
        )


def _attrs(raw: Mapping[str, Any], key: Mapping[str, Any], policy_status: str) -> dict[str, Any]:
    function = raw["function"]
    return {
        "runtime": function.get("Runtime"),
        "package_type": function.get("PackageType"),
        "architectures": list(function.get("Architectures", [])),
        "role": function.get("Role"),
        **_encryption(function, key),
        "environment_variable_names": list(function.get("EnvironmentVariableNames", [])),
        "environment_error_code": function.get("EnvironmentErrorCode"),
        "vpc": _vpc(function),
        "dead_letter_target_arn": (function.get("DeadLetterConfig") or {}).get("TargetArn"),
        "layers": [layer.get("Arn") for layer in function.get("Layers", [])],
        "policy_status": policy_status,
        "policy": _policy(raw["policy"]),
        **_url(raw["url"]),
        "tags_status": raw["tags"]["status"],
    }


def transform_function(
    raw: Mapping[str, Any], region: str, partition: str, aliases: Mapping[str, str]
) -> Iterator[Resource | Edge]:
    """One function → its Resource, `encrypted_by`, policy rights and public-URL edges."""
    function = raw["function"]
    uid = str(function["FunctionArn"])
    account = uid.split(":")[4]
    key = kms_key_facts(function.get("KMSKeyArn"), region, account, partition, aliases)
    label = f"function policy of {uid}"
    policy = raw["policy"]
    rights, policy_status = resource_policy_rights(
        policy["status"], _policy(policy), uid, label, "lambda"
    )
    attrs = _attrs(raw, key, policy_status)
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.FUNCTION,
        native_type=NATIVE_TYPE,
        name=str(function.get("FunctionName") or uid.rsplit(":", 1)[-1]),
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags={str(k): str(v) for k, v in raw["tags"].get("value", {}).get("Tags", {}).items()},
        attrs=attrs,
    )
    evidence = (
        f"environment variables of {uid} are encrypted with {attrs['kms_key']} "
        "(ListFunctions KMSKeyArn)"
    )
    yield from encrypted_by(uid, attrs, evidence)
    yield from _public_url(uid, attrs)
    yield from rights


def transform_functions(
    raw: Mapping[str, Any], partition: str, aliases: Mapping[str, str] | None = None
) -> Iterator[Resource | Edge]:
    """Every function of one region's raw listing → resources and edges."""
    for function in raw["functions"]:
        yield from transform_function(function, str(raw["region"]), partition, aliases or {})


def collect(ctx: ServiceContext) -> Collected:
    """Lambda functions of one region."""
    raw = get_functions(ctx.clients.get("lambda", ctx.region), ctx.region)
    aliases = ctx.facts.aliases()
    records: list[Record] = list(transform_functions(raw, ctx.identity.partition, aliases))
    return records, f"{len(raw['functions'])} functions"


SERVICE = Service("lambda", Scope.REGIONAL, collect, OPERATIONS, phase=1)
