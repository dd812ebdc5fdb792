"""Turn resource-based policies and S3 ACLs into rights edges (principal → resource). Pure.

What is modelled, and what is not:
- Actions map to rights through `ACTION_RIGHTS`, a table of concrete IAM actions; a policy's
  action pattern grants the union of the rights of every table action it matches (AWS wildcard
  rules: case-insensitive, `*` and `?`). `NotAction` grants every table action it does not name.
  Only the table actions of the resource's own service count, so `"Action": "*"` in a bucket
  policy yields the S3 rights and never `can_decrypt`.
- `Condition` blocks are copied onto the edge, never evaluated or dropped.
- A `Deny` without `Condition` removes the actions it covers from the principals it covers
  (`*`, the same principal, or the principal's account). A conditional `Deny` removes nothing:
  whether it applies is decided at request time, so the allow stays visible with its conditions.
- Resource scoping: an allow counts when one of its `Resource` patterns touches the resource
  (the resource itself or something under it, such as `bucket/*`); a deny counts only when it
  covers the resource itself or everything under it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

from auditor.model import Edge, Relation

PUBLIC = "public:*"

_R = frozenset({Relation.CAN_READ})
_W = frozenset({Relation.CAN_WRITE})
_A = frozenset({Relation.CAN_ADMIN})
_D = frozenset({Relation.CAN_DECRYPT})
_S = frozenset({Relation.CAN_ASSUME})
_SH = frozenset({Relation.CAN_SHARE})

# The data table: concrete IAM action → rights it confers on the resource.
ACTION_RIGHTS: tuple[tuple[str, frozenset[Relation]], ...] = (
    # S3: reading data or object listings
    ("s3:GetObject", _R),
    ("s3:GetObjectVersion", _R),
    ("s3:GetObjectAttributes", _R),
    ("s3:GetObjectVersionAttributes", _R),
    ("s3:GetObjectTorrent", _R),
    ("s3:GetObjectVersionTorrent", _R),
    ("s3:GetObjectVersionForReplication", _R),
    ("s3:ListBucket", _R),
    ("s3:ListBucketVersions", _R),
    ("s3:ListMultipartUploadParts", _R),
    # S3: changing or destroying data
    ("s3:PutObject", _W),
    ("s3:DeleteObject", _W),
    ("s3:DeleteObjectVersion", _W),
    ("s3:RestoreObject", _W),
    ("s3:AbortMultipartUpload", _W),
    ("s3:ReplicateObject", _W),
    ("s3:ReplicateDelete", _W),
    ("s3:PutObjectRetention", _W),
    ("s3:PutObjectLegalHold", _W),
    # S3: changing who can reach the data, or where it goes
    ("s3:PutBucketPolicy", _A),
    ("s3:DeleteBucketPolicy", _A),
    ("s3:PutBucketAcl", _A),
    ("s3:PutObjectAcl", _A),
    ("s3:PutObjectVersionAcl", _A),
    ("s3:PutReplicationConfiguration", _A),
    ("s3:PutBucketPublicAccessBlock", _A),
    ("s3:PutBucketOwnershipControls", _A),
    ("s3:PutEncryptionConfiguration", _A),
    ("s3:PutLifecycleConfiguration", _A),
    ("s3:PutBucketObjectLockConfiguration", _A),
    ("s3:PutBucketVersioning", _A),
    ("s3:DeleteBucket", _A),
    ("s3:DeleteBucketOwnershipControls", _A),
    # KMS: using the key to reach plaintext
    ("kms:Decrypt", _D),
    ("kms:ReEncryptFrom", _D),
    ("kms:GenerateDataKey", _D),
    ("kms:GenerateDataKeyPair", _D),
    ("kms:GenerateDataKeyWithoutPlaintext", _D),
    ("kms:GenerateDataKeyPairWithoutPlaintext", _D),
    # KMS: controlling the key (a grant or a policy change hands out Decrypt)
    ("kms:PutKeyPolicy", _A),
    ("kms:CreateGrant", _A),
    ("kms:ScheduleKeyDeletion", _A),
    ("kms:CancelKeyDeletion", _A),
    ("kms:DisableKey", _A),
    ("kms:EnableKey", _A),
    ("kms:DisableKeyRotation", _A),
    ("kms:ReplicateKey", _A),
    ("kms:UpdatePrimaryRegion", _A),
    ("kms:ImportKeyMaterial", _A),
    ("kms:DeleteImportedKeyMaterial", _A),
    # STS: becoming the role
    ("sts:AssumeRole", _S),
    ("sts:AssumeRoleWithSAML", _S),
    ("sts:AssumeRoleWithWebIdentity", _S),
    # SQS: messages are data
    ("sqs:ReceiveMessage", _R),
    ("sqs:SendMessage", _W),
    ("sqs:DeleteMessage", _W),
    ("sqs:PurgeQueue", _W),
    ("sqs:SetQueueAttributes", _A),
    ("sqs:AddPermission", _A),
    ("sqs:DeleteQueue", _A),
    # SNS: a subscriber receives every message; a publisher injects them
    ("sns:Subscribe", _R),
    ("sns:Publish", _W),
    ("sns:SetTopicAttributes", _A),
    ("sns:AddPermission", _A),
    ("sns:DeleteTopic", _A),
    # Lambda: invoking runs code with the function's role over the data it reaches
    ("lambda:InvokeFunction", _W),
    ("lambda:InvokeFunctionUrl", _W),
    ("lambda:GetFunction", _R),
    ("lambda:UpdateFunctionCode", _A),
    ("lambda:UpdateFunctionConfiguration", _A),
    ("lambda:AddPermission", _A),
    ("lambda:DeleteFunction", _A),
    # Secrets Manager
    ("secretsmanager:GetSecretValue", _R),
    ("secretsmanager:PutSecretValue", _W),
    ("secretsmanager:PutResourcePolicy", _A),
    ("secretsmanager:DeleteSecret", _A),
    ("secretsmanager:ReplicateSecretToRegions", _A),
    # ECR: images are software and data
    ("ecr:BatchGetImage", _R),
    ("ecr:GetDownloadUrlForLayer", _R),
    ("ecr:PutImage", _W),
    ("ecr:BatchDeleteImage", _W),
    ("ecr:SetRepositoryPolicy", _A),
    ("ecr:DeleteRepository", _A),
    # AWS Backup: copying into a vault moves data; deleting recovery points destroys it
    ("backup:CopyIntoBackupVault", _W),
    ("backup:DeleteRecoveryPoint", _W),
    ("backup:StartRestoreJob", _R),
    ("backup:PutBackupVaultAccessPolicy", _A),
    ("backup:DeleteBackupVault", _A),
    # CloudWatch Logs
    ("logs:GetLogEvents", _R),
    ("logs:FilterLogEvents", _R),
    ("logs:PutLogEvents", _W),
    ("logs:PutSubscriptionFilter", _A),
    ("logs:DeleteLogGroup", _A),
    ("logs:PutRetentionPolicy", _A),
    # DynamoDB
    ("dynamodb:GetItem", _R),
    ("dynamodb:Query", _R),
    ("dynamodb:Scan", _R),
    ("dynamodb:BatchGetItem", _R),
    ("dynamodb:ExportTableToPointInTime", _R),
    ("dynamodb:PutItem", _W),
    ("dynamodb:UpdateItem", _W),
    ("dynamodb:DeleteItem", _W),
    ("dynamodb:BatchWriteItem", _W),
    ("dynamodb:PutResourcePolicy", _A),
    ("dynamodb:DeleteTable", _A),
    ("dynamodb:UpdateTable", _A),
    # Sharing copies with other accounts (or with everyone)
    ("ec2:ModifySnapshotAttribute", _SH),
    ("ec2:ModifyImageAttribute", _SH),
    ("rds:ModifyDBSnapshotAttribute", _SH),
    ("rds:ModifyDBClusterSnapshotAttribute", _SH),
)

# Condition keys that pin a `*` grant to known callers; AWS does not call such a policy public,
# so RestrictPublicBuckets leaves it in force.
NARROWING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:userid",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
    }
)

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:[a-z0-9-]+:iam::(\d{12}):root$")
_ARN_ACCOUNT = re.compile(r"^arn:[a-z0-9-]+:(?:iam|sts)::(\d{12}):")


class PolicyDocumentError(ValueError):
    """The policy text is not a JSON object with statements."""


class PrincipalError(PolicyDocumentError, TypeError):
    """A Principal element AWS would reject (a list, a number, a list of objects).

    Also a TypeError: callers written before this error existed caught the TypeError or
    AttributeError that reading such an element used to raise, and must keep working.
    """


@dataclass(frozen=True, slots=True)
class PolicyRights:
    """Rights edges found in one policy, and public grants a public access block neutralises."""

    edges: tuple[Edge, ...] = ()
    public_blocked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Statement:
    label: str
    allow: bool
    principals: tuple[str, ...]
    not_principals: tuple[str, ...] | None
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: Mapping[str, Any] = field(default_factory=dict)


def glob_regex(glob: str, flags: int = 0) -> re.Pattern[str]:
    """A regex that `fullmatch`es what the IAM wildcard `glob` matches (`*` any run, `?` one).

    Each run between two stars is matched at its first place and never revisited (an atomic
    group): the plain translation `.*a.*a.*a…` backtracks exponentially, so a policy naming
    `*a*a*a*a*a*a*a*a*a*a*b` (policy text comes from the cloud) would hang the audit.  The first
    place is always right, because what follows it starts with a star of its own.
    """
    chunks = [re.escape(chunk).replace(r"\?", ".") for chunk in glob.split("*")]
    if len(chunks) == 1:
        return re.compile(chunks[0], flags | re.DOTALL)
    middle = "".join(f"(?>.*?{chunk})" for chunk in chunks[1:-1] if chunk)
    return re.compile(f"{chunks[0]}{middle}.*{chunks[-1]}", flags | re.DOTALL)


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    return glob_regex(glob, re.IGNORECASE)


def matches(glob: str, value: str) -> bool:
    """Match an IAM wildcard pattern (case-insensitive `*`, `?`) against a whole value.

    >>> matches("s3:Get*", "s3:getobject")
    True
    >>> matches("kms:?ecrypt", "kms:Decrypt")
    True
    """
    return _pattern(glob).fullmatch(value) is not None


def _as_tuple(value: Any, element: str = "element") -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyDocumentError(f"{element} must be a string or a list of strings")


def normalise_principal(kind: str, value: str) -> str:
    """Turn one policy principal into a graph node uid.

    >>> normalise_principal("AWS", "arn:aws-cn:iam::111122223333:root")
    'account:111122223333'
    >>> normalise_principal("Service", "s3.amazonaws.com")
    'service:s3.amazonaws.com'
    """
    if value == "*":
        return PUBLIC
    if kind == "AWS":
        if _ACCOUNT_ID.match(value):
            return f"account:{value}"
        root = _ROOT_ARN.match(value)
        return f"account:{root.group(1)}" if root else value
    prefix = {"Service": "service", "Federated": "federated", "CanonicalUser": "canonical"}
    return f"{prefix.get(kind, kind.lower())}:{value}"


def normalise_principals(block: Any) -> tuple[str, ...]:
    """All node uids named by a `Principal` (or `NotPrincipal`) element."""
    if block is None:
        return ()
    if isinstance(block, str):
        return (normalise_principal("AWS", block),)
    if not isinstance(block, Mapping):
        raise PrincipalError('Principal must be "*" or an object such as {"AWS": [...]}')
    uids: list[str] = []
    for kind, values in block.items():
        try:
            named = _as_tuple(values)
        except PolicyDocumentError as err:
            message = f"Principal {kind!r} must be a string or a list of strings"
            raise PrincipalError(message) from err
        uids.extend(normalise_principal(str(kind), v) for v in named)
    return tuple(dict.fromkeys(uids))


def load_document(document: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """Parse a policy given as a dict, JSON text or URL-encoded JSON (IAM's wire form)."""
    if isinstance(document, Mapping):
        return document
    if not isinstance(document, str):
        raise PolicyDocumentError(f"policy is a {type(document).__name__}, not a JSON object")
    text = document.strip()
    if text.lower().startswith("%7b"):
        text = unquote(text)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as err:
        raise PolicyDocumentError(f"policy is not JSON: {err.msg}") from err
    except RecursionError as err:
        raise PolicyDocumentError("policy is not JSON: nested too deeply") from err
    except ValueError as err:
        # A number longer than int_max_str_digits: Python refuses to read it.
        raise PolicyDocumentError("policy is not JSON: a number has too many digits") from err
    if not isinstance(parsed, dict):
        raise PolicyDocumentError("policy is not a JSON object")
    return parsed


def _statements(doc: Mapping[str, Any]) -> Iterator[_Statement]:
    raw = doc.get("Statement", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise PolicyDocumentError("Statement must be a list of statement objects")
    for index, stmt in enumerate(raw):
        if not isinstance(stmt, dict):
            raise PolicyDocumentError(f"statement #{index} is not an object")
        sid = stmt.get("Sid")
        try:
            yield _statement(stmt, f"'{sid}'" if sid else f"#{index}")
        except PolicyDocumentError as err:
            # repr: the Sid is the document's text, and the error must stay one line.
            where = repr(sid) if sid else f"#{index}"
            raise type(err)(f"statement {where}: {err}") from err


def _statement(stmt: Mapping[str, Any], label: str) -> _Statement:
    not_principal = stmt.get("NotPrincipal")
    action = "NotAction" if "NotAction" in stmt else "Action"
    resource = "NotResource" if "NotResource" in stmt else "Resource"
    return _Statement(
        label=label,
        allow=str(stmt.get("Effect", "")).lower() == "allow",
        principals=normalise_principals(stmt.get("Principal")),
        not_principals=None if not_principal is None else normalise_principals(not_principal),
        actions=_as_tuple(stmt.get(action), action),
        not_action=action == "NotAction",
        resources=_as_tuple(stmt.get(resource, "*"), resource),
        not_resource=resource == "NotResource",
        conditions=_conditions(stmt.get("Condition")),
    )


def _conditions(block: Any) -> dict[str, Any]:
    """The Condition block as given, once it has the shape `{operator: {key: values}}`."""
    if not block:
        return {}
    if not isinstance(block, Mapping) or not all(isinstance(v, Mapping) for v in block.values()):
        raise PolicyDocumentError("Condition must map each operator to an object of keys")
    return dict(block)


def table_actions(service: str) -> tuple[str, ...]:
    """The table's actions of one service prefix ("s3", "kms", "sts")."""
    return tuple(a for a, _ in ACTION_RIGHTS if a.split(":", 1)[0] == service)


def granted_actions(stmt_actions: Sequence[str], service: str, not_action: bool) -> frozenset[str]:
    """Table actions of `service` that an Action (or NotAction) list grants."""
    hit = {a for a in table_actions(service) if any(matches(p, a) for p in stmt_actions)}
    if not_action:
        return frozenset(table_actions(service)) - hit
    return frozenset(hit)


def rights_of(actions: Iterable[str]) -> frozenset[Relation]:
    """Union of the rights of table actions."""
    table = dict(ACTION_RIGHTS)
    return frozenset().union(*(table[a] for a in actions))


def _touches(stmt: _Statement, uid: str) -> bool:
    if stmt.not_resource:
        # Everything except the listed resources: it applies unless this one is excluded.
        return not any(matches(p, uid) for p in stmt.resources)
    return any(
        matches(p, uid) or matches(p, f"{uid}/*") or p.lower().startswith(f"{uid.lower()}/")
        for p in stmt.resources
    )


def _covers_resource(stmt: _Statement, uid: str) -> bool:
    if stmt.not_resource:
        return False
    return any(matches(p, uid) or matches(p, f"{uid}/*") for p in stmt.resources)


def _account_of(uid: str) -> str | None:
    if uid.startswith("account:"):
        return uid.removeprefix("account:")
    found = _ARN_ACCOUNT.match(uid)
    return found.group(1) if found else None


def _names(principal: str, listed: Sequence[str]) -> bool:
    if PUBLIC in listed or principal in listed:
        return True
    account = _account_of(principal)
    return principal != PUBLIC and account is not None and f"account:{account}" in listed


def _deny_covers(stmt: _Statement, principal: str) -> bool:
    if stmt.not_principals is not None:
        return not _names(principal, stmt.not_principals)
    return _names(principal, stmt.principals)


def _is_public_grant(principal: str, conditions: Mapping[str, Any]) -> bool:
    if principal != PUBLIC:
        return False
    keys = {str(k).lower() for block in conditions.values() for k in dict(block)}
    return not keys & NARROWING_KEYS


def _describe_actions(stmt: _Statement) -> str:
    listed = ", ".join(stmt.actions) or "no action"
    return f"NotAction {listed}" if stmt.not_action else listed


def rights_from_policy(
    document: Mapping[str, Any] | str,
    resource_uid: str,
    policy_label: str,
    service: str,
    block_public: bool = False,
) -> PolicyRights:
    """Rights edges granted by a resource policy on `resource_uid`.

    `policy_label` names the policy in evidence ("bucket policy of arn:aws-cn:s3:::x");
    `service` is the action prefix that matters for this resource ("s3", "kms", "sts");
    `block_public` (RestrictPublicBuckets in force) turns public grants into `public_blocked`.
    Raises `PolicyDocumentError` when the document cannot be parsed.
    """
    statements = list(_statements(load_document(document)))
    denies = [
        (s, granted_actions(s.actions, service, s.not_action))
        for s in statements
        if not s.allow and not s.conditions and _covers_resource(s, resource_uid)
    ]
    edges: list[Edge] = []
    blocked: list[str] = []
    for stmt in statements:
        if not stmt.allow or not _touches(stmt, resource_uid):
            continue
        granted = granted_actions(stmt.actions, service, stmt.not_action)
        if not granted:
            continue
        # Allow with NotPrincipal grants everyone but the listed principals.
        grantees = (PUBLIC,) if stmt.not_principals is not None else stmt.principals
        for principal in grantees:
            denied = frozenset().union(*(a for d, a in denies if _deny_covers(d, principal)))
            for right in sorted(rights_of(granted - denied)):
                evidence = (
                    f"{policy_label}, statement {stmt.label} ({_describe_actions(stmt)}) "
                    f"grants {right.value}"
                )
                if block_public and _is_public_grant(principal, stmt.conditions):
                    blocked.append(evidence)
                    continue
                edges.append(Edge(principal, resource_uid, right, evidence, stmt.conditions))
    return PolicyRights(tuple(edges), tuple(blocked))


ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"

ACL_RIGHTS: Mapping[str, frozenset[Relation]] = {
    "READ": _R,
    "WRITE": _W,
    "WRITE_ACP": _A,
    "FULL_CONTROL": _R | _W | _A,
}
_ACL_GROUPS = {
    ALL_USERS: (PUBLIC, "AllUsers"),
    AUTHENTICATED_USERS: (PUBLIC, "AuthenticatedUsers"),
    LOG_DELIVERY: ("service:logging.s3.amazonaws.com", "LogDelivery"),
}


def acl_grantee(
    grantee: Mapping[str, Any], owner_id: str | None, owner_uid: str
) -> tuple[str, str]:
    """(node uid, display name) of an S3 ACL grantee; the owner's canonical id → `owner_uid`."""
    kind = grantee.get("Type")
    if kind == "Group":
        uri = str(grantee.get("URI", ""))
        return _ACL_GROUPS.get(uri, (f"group:{uri}", uri))
    if kind == "AmazonCustomerByEmail":
        email = str(grantee.get("EmailAddress", ""))
        return f"email:{email}", email
    canonical = str(grantee.get("ID", ""))
    if owner_id and canonical == owner_id:
        return owner_uid, "bucket owner"
    return f"canonical:{canonical}", str(grantee.get("DisplayName") or canonical)


def rights_from_acl(
    grants: Sequence[Mapping[str, Any]],
    resource_uid: str,
    owner_id: str | None,
    owner_uid: str,
    ignore_public: bool = False,
) -> PolicyRights:
    """Rights edges from an S3 ACL; READ_ACP gives no right over data and is skipped.

    `owner_uid` stands for the owner's canonical id (usually `account:<id>`); `ignore_public`
    (IgnorePublicAcls in force) turns AllUsers/AuthenticatedUsers grants into `public_blocked`.
    """
    edges: list[Edge] = []
    blocked: list[str] = []
    for grant in grants:
        permission = str(grant.get("Permission", ""))
        uid, shown = acl_grantee(grant.get("Grantee", {}), owner_id, owner_uid)
        for right in sorted(ACL_RIGHTS.get(permission, frozenset())):
            evidence = f"ACL of {resource_uid} grants {permission} to {shown} → {right.value}"
            if ignore_public and uid == PUBLIC:
                blocked.append(evidence)
            else:
                edges.append(Edge(uid, resource_uid, right, evidence))
    return PolicyRights(tuple(edges), tuple(blocked))
