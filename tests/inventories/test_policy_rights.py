from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from auditor.inventories.aws.policy_rights import (
    ACTION_RIGHTS,
    ALL_USERS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    PUBLIC,
    PolicyDocumentError,
    granted_actions,
    matches,
    normalise_principals,
    rights_from_acl,
    rights_from_policy,
)
from auditor.model import Relation

BUCKET = "arn:aws-cn:s3:::gov-src"
KEY = "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd"
ROLE = "arn:aws-cn:iam::123456789012:role/vendor-ops"
R, W, A = Relation.CAN_READ, Relation.CAN_WRITE, Relation.CAN_ADMIN
D, S = Relation.CAN_DECRYPT, Relation.CAN_ASSUME


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def deny(principal: Any, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def pairs(doc: Any, uid: str = BUCKET, service: str = "s3", **kw: Any) -> set[tuple[str, Relation]]:
    found = rights_from_policy(doc, uid, f"policy of {uid}", service, **kw)
    return {(e.src, e.relation) for e in found.edges}


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("*", (PUBLIC,)),
        ({"AWS": "*"}, (PUBLIC,)),
        ({"AWS": ["*"]}, (PUBLIC,)),
        ({"AWS": "999988887777"}, ("account:999988887777",)),
        ({"AWS": "arn:aws-cn:iam::999988887777:root"}, ("account:999988887777",)),
        ({"AWS": "arn:aws:iam::111122223333:root"}, ("account:111122223333",)),
        ({"AWS": "arn:aws-us-gov:iam::111122223333:root"}, ("account:111122223333",)),
        (
            {"AWS": "arn:aws-cn:iam::999988887777:user/bob"},
            ("arn:aws-cn:iam::999988887777:user/bob",),
        ),
        (
            {"AWS": "arn:aws-cn:iam::999988887777:role/ops"},
            ("arn:aws-cn:iam::999988887777:role/ops",),
        ),
        ({"Service": "s3.amazonaws.com"}, ("service:s3.amazonaws.com",)),
        (
            {"Service": ["ec2.amazonaws.com.cn", "s3.amazonaws.com"]},
            ("service:ec2.amazonaws.com.cn", "service:s3.amazonaws.com"),
        ),
        (
            {"Federated": "arn:aws-cn:iam::123456789012:saml-provider/gov-idp"},
            ("federated:arn:aws-cn:iam::123456789012:saml-provider/gov-idp",),
        ),
        (
            {"Federated": "cognito-identity.amazonaws.com"},
            ("federated:cognito-identity.amazonaws.com",),
        ),
        ({"CanonicalUser": "79a59df900b949e5"}, ("canonical:79a59df900b949e5",)),
        ({"AWS": ["999988887777", "arn:aws-cn:iam::999988887777:root"]}, ("account:999988887777",)),
        (None, ()),
    ],
)
def test_principals_are_normalised_to_node_uids(block, expected):
    assert normalise_principals(block) == expected


@pytest.mark.parametrize(
    ("pattern", "action", "hit"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("S3:getobject", "s3:GetObject", True),
        ("s3:Get*", "s3:GetObjectVersion", True),
        ("s3:*Object", "s3:PutObject", True),
        ("s3:*Object", "s3:PutObjectAcl", False),
        ("kms:?ecrypt", "kms:Decrypt", True),
        ("kms:?ecrypt", "kms:ReEncryptFrom", False),
        ("*", "sts:AssumeRole", True),
        ("s3:Get[Object]", "s3:GetO", False),
        ("s3:GetObject.", "s3:GetObjectX", False),
    ],
)
def test_wildcards_match_like_aws(pattern, action, hit):
    assert matches(pattern, action) is hit


@pytest.mark.parametrize(
    ("action", "service", "rights"),
    [
        ("s3:GetObject", "s3", {R}),
        ("s3:GetObject*", "s3", {R}),
        ("s3:ListBucket", "s3", {R}),
        ("s3:PutObject", "s3", {W}),
        ("s3:DeleteObject*", "s3", {W}),
        ("s3:PutBucketPolicy", "s3", {A}),
        ("s3:PutBucketAcl", "s3", {A}),
        ("s3:PutReplicationConfiguration", "s3", {A}),
        ("s3:DeleteBucket*", "s3", {A}),
        ("s3:*", "s3", {R, W, A}),
        ("*", "s3", {R, W, A}),
        ("s3:Get*", "s3", {R}),
        ("s3:GetBucketLocation", "s3", set()),
        ("kms:Decrypt", "s3", set()),
        ("kms:Decrypt", "kms", {D}),
        ("kms:ReEncryptFrom", "kms", {D}),
        ("kms:GenerateDataKey*", "kms", {D}),
        ("kms:PutKeyPolicy", "kms", {A}),
        ("kms:ScheduleKeyDeletion", "kms", {A}),
        ("kms:DisableKey", "kms", {A}),
        ("kms:CreateGrant", "kms", {A}),
        ("kms:*", "kms", {A, D}),
        ("*", "kms", {A, D}),
        ("kms:Encrypt", "kms", set()),
        ("kms:Describe*", "kms", set()),
        ("sts:AssumeRole", "sts", {S}),
        ("sts:AssumeRoleWithSAML", "sts", {S}),
        ("sts:AssumeRoleWithWebIdentity", "sts", {S}),
        ("sts:AssumeRole*", "sts", {S}),
        ("sts:TagSession", "sts", set()),
    ],
)
def test_actions_map_to_rights_by_table(action, service, rights):
    uid = {"s3": BUCKET, "kms": KEY, "sts": ROLE}[service]
    doc = policy(allow({"AWS": "999988887777"}, action))
    assert {r for _, r in pairs(doc, uid, service)} == rights


def test_table_holds_only_concrete_actions_of_known_services():
    for action, rights in ACTION_RIGHTS:
        assert "*" not in action and "?" not in action
        assert action.split(":")[0] in {
            "s3", "kms", "sts", "sqs", "sns", "lambda", "secretsmanager", "ecr", "backup",
            "logs", "dynamodb", "ec2", "rds",
        }  # fmt: skip
        assert rights


@pytest.mark.parametrize(
    ("not_action", "rights"),
    [
        ("s3:PutBucketPolicy", {R, W, A}),  # other admin actions remain
        (["s3:Put*", "s3:Delete*"], {R, W}),  # ReplicateObject, RestoreObject still write
        ("s3:*", set()),
        (["s3:Get*", "s3:List*"], {W, A}),
    ],
)
def test_not_action_grants_every_table_action_not_excluded(not_action, rights):
    stmt = {"Effect": "Allow", "Principal": "*", "NotAction": not_action, "Resource": "*"}
    assert {r for _, r in pairs(policy(stmt))} == rights


def test_not_action_on_key_policy():
    stmt = {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "NotAction": "kms:Decrypt"}
    assert {r for _, r in pairs(policy(stmt), KEY, "kms")} == {A, D}  # GenerateDataKey left
    assert granted_actions(["kms:*"], "kms", not_action=True) == frozenset()


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        # unconditional Deny of the same principal and action removes the right
        (
            [
                allow({"AWS": "999988887777"}, "s3:GetObject"),
                deny({"AWS": "999988887777"}, "s3:GetObject"),
            ],
            set(),
        ),
        # Deny to * covers everyone
        ([allow({"AWS": "999988887777"}, "s3:GetObject"), deny("*", "s3:*")], set()),
        # Deny of the account root covers the account's users
        (
            [
                allow({"AWS": "arn:aws-cn:iam::999988887777:user/bob"}, "s3:GetObject"),
                deny({"AWS": "arn:aws-cn:iam::999988887777:root"}, "s3:GetObject"),
            ],
            set(),
        ),
        # Deny of another account does not
        (
            [
                allow({"AWS": "999988887777"}, "s3:GetObject"),
                deny({"AWS": "111122223333"}, "s3:GetObject"),
            ],
            {("account:999988887777", R)},
        ),
        # Deny of a user does not cover the whole account
        (
            [
                allow({"AWS": "999988887777"}, "s3:GetObject"),
                deny({"AWS": "arn:aws-cn:iam::999988887777:user/bob"}, "s3:GetObject"),
            ],
            {("account:999988887777", R)},
        ),
        # partial Deny: GetObject denied, ListBucket still reads
        (
            [
                allow({"AWS": "999988887777"}, "s3:*"),
                deny({"AWS": "999988887777"}, "s3:GetObject*"),
            ],
            {("account:999988887777", R), ("account:999988887777", W), ("account:999988887777", A)},
        ),
        # Deny of every read action removes can_read only
        (
            [
                allow({"AWS": "999988887777"}, "s3:*"),
                deny({"AWS": "999988887777"}, ["s3:GetObject*", "s3:List*"]),
            ],
            {("account:999988887777", W), ("account:999988887777", A)},
        ),
        # conditional Deny removes nothing: it is decided at request time
        (
            [
                allow({"AWS": "999988887777"}, "s3:GetObject"),
                deny("*", "s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
            ],
            {("account:999988887777", R)},
        ),
        # Deny scoped to one prefix does not cover the bucket
        (
            [
                allow({"AWS": "999988887777"}, "s3:GetObject"),
                deny({"AWS": "999988887777"}, "s3:GetObject", f"{BUCKET}/secret/*"),
            ],
            {("account:999988887777", R)},
        ),
        # Deny on bucket/* covers object reads
        (
            [
                allow({"AWS": "999988887777"}, "s3:GetObject", f"{BUCKET}/*"),
                deny({"AWS": "999988887777"}, "s3:GetObject", f"{BUCKET}/*"),
            ],
            set(),
        ),
        # Deny with NotPrincipal covers everyone not listed
        (
            [
                allow({"AWS": ["999988887777", "111122223333"]}, "s3:GetObject"),
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": "111122223333"},
                    "Action": "s3:*",
                    "Resource": "*",
                },
            ],
            {("account:111122223333", R)},
        ),
    ],
)
def test_unconditional_deny_removes_covered_rights(statements, expected):
    assert pairs(policy(*statements)) == expected


def test_conditions_are_kept_on_the_edge():
    condition = {
        "StringEquals": {"aws:PrincipalOrgID": "o-abc"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    found = rights_from_policy(
        policy(allow("*", "s3:GetObject", Condition=condition)), BUCKET, "p", "s3"
    )
    assert [(e.src, e.relation, dict(e.conditions)) for e in found.edges] == [
        (PUBLIC, R, condition)
    ]


def test_evidence_names_policy_statement_and_actions():
    doc = policy(
        allow({"AWS": "999988887777"}, "s3:GetObject", Sid="VendorRead"),
        allow({"AWS": "999988887777"}, ["s3:PutObject", "s3:DeleteObject"]),
        {"Effect": "Allow", "Principal": "*", "NotAction": "s3:*Policy"},
    )
    found = rights_from_policy(doc, BUCKET, f"bucket policy of {BUCKET}", "s3")
    evidence = sorted(e.evidence for e in found.edges)
    assert (
        f"bucket policy of {BUCKET}, statement 'VendorRead' (s3:GetObject) grants can_read"
        in evidence
    )
    assert (
        f"bucket policy of {BUCKET}, statement #1 (s3:PutObject, s3:DeleteObject) grants can_write"
        in evidence
    )
    assert (
        f"bucket policy of {BUCKET}, statement #2 (NotAction s3:*Policy) grants can_admin"
        in evidence
    )


def test_one_edge_per_principal_right_and_statement():
    doc = policy(
        allow(
            {"AWS": ["999988887777", "arn:aws-cn:iam::111122223333:role/r"]},
            ["s3:GetObject", "s3:ListBucket"],
        ),
        allow({"AWS": "999988887777"}, "s3:Get*"),
    )
    edges = rights_from_policy(doc, BUCKET, "p", "s3").edges
    assert sorted((e.src, e.relation.value) for e in edges) == [
        ("account:999988887777", "can_read"),
        ("account:999988887777", "can_read"),
        ("arn:aws-cn:iam::111122223333:role/r", "can_read"),
    ]
    assert all(e.dst == BUCKET for e in edges)


@pytest.mark.parametrize(
    ("resource", "applies"),
    [
        ("*", True),
        (BUCKET, True),
        (f"{BUCKET}/*", True),
        (f"{BUCKET}/share/*", True),
        ("arn:aws-cn:s3:::gov-*", True),
        ("arn:aws-cn:s3:::other", False),
        ("arn:aws-cn:s3:::other/*", False),
        ([f"{BUCKET}-logs/*", "arn:aws-cn:s3:::other"], False),
    ],
)
def test_allow_counts_only_when_resource_touches_the_bucket(resource, applies):
    doc = policy(allow({"AWS": "999988887777"}, "s3:GetObject", resource))
    assert bool(pairs(doc)) is applies


def test_not_resource_allow_applies_unless_excluded():
    base = {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "s3:GetObject"}
    assert pairs(policy({**base, "NotResource": "arn:aws-cn:s3:::other/*"}))
    assert not pairs(policy({**base, "NotResource": BUCKET}))


def test_allow_with_not_principal_grants_everyone():
    stmt = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": "999988887777"},
        "Action": "s3:GetObject",
        "Resource": "*",
    }
    assert pairs(policy(stmt)) == {(PUBLIC, R)}


def test_deny_statements_yield_no_edges_and_single_statement_object_is_accepted():
    assert pairs({"Statement": deny("*", "s3:*")}) == set()
    assert pairs({"Statement": allow("*", "s3:ListBucket")}) == {(PUBLIC, R)}


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: d,
        json.dumps,
        lambda d: quote(json.dumps(d)),  # IAM's URL-encoded wire form
    ],
)
def test_documents_as_dict_json_or_url_encoded(encode):
    doc = policy(allow({"AWS": "999988887777"}, "sts:AssumeRole"))
    assert pairs(encode(doc), ROLE, "sts") == {("account:999988887777", S)}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"Statement": ["x"]}'])
def test_malformed_documents_raise(text):
    with pytest.raises(PolicyDocumentError):
        rights_from_policy(text, BUCKET, "p", "s3")


def test_trust_policy_gives_can_assume_with_conditions():
    condition = {"StringEquals": {"sts:ExternalId": "HT-2024-017"}}
    doc = policy(
        {
            "Sid": "Vendor",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws-cn:iam::999988887777:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": condition,
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com.cn"},
            "Action": "sts:AssumeRole",
        },
        {
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws-cn:iam::123456789012:saml-provider/gov-idp"},
            "Action": "sts:AssumeRoleWithSAML",
        },
    )
    edges = rights_from_policy(doc, ROLE, f"trust policy of {ROLE}", "sts").edges
    assert [(e.src, e.relation, dict(e.conditions)) for e in edges] == [
        ("account:999988887777", S, condition),
        ("service:ec2.amazonaws.com.cn", S, {}),
        ("federated:arn:aws-cn:iam::123456789012:saml-provider/gov-idp", S, {}),
    ]
    assert edges[0].evidence == (
        f"trust policy of {ROLE}, statement 'Vendor' (sts:AssumeRole, sts:TagSession) "
        "grants can_assume"
    )


def test_key_policy_rights():
    doc = policy(
        allow({"AWS": "arn:aws-cn:iam::123456789012:root"}, "kms:*"),
        allow(
            {"AWS": "arn:aws-cn:iam::123456789012:role/key-admin"},
            ["kms:Create*", "kms:Put*", "kms:Describe*"],
        ),
        allow({"AWS": "arn:aws-cn:iam::999988887777:role/app"}, ["kms:Decrypt", "kms:Encrypt"]),
        allow({"Service": "logs.cn-north-1.amazonaws.com.cn"}, "kms:GenerateDataKey*"),
    )
    assert pairs(doc, KEY, "kms") == {
        ("account:123456789012", A),
        ("account:123456789012", D),
        ("arn:aws-cn:iam::123456789012:role/key-admin", A),
        ("arn:aws-cn:iam::999988887777:role/app", D),
        ("service:logs.cn-north-1.amazonaws.com.cn", D),
    }


@pytest.mark.parametrize(
    ("condition", "blocked"),
    [
        (None, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}, False),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, False),
        ({"ArnLike": {"AWS:SourceArn": "arn:aws-cn:cloudtrail:*"}}, False),
    ],
)
def test_restrict_public_buckets_blocks_public_policy_grants(condition, blocked):
    extra = {"Condition": condition} if condition else {}
    doc = policy(
        allow("*", "s3:GetObject", Sid="Anyone", **extra),
        allow({"AWS": "999988887777"}, "s3:PutObject"),
    )
    found = rights_from_policy(doc, BUCKET, "bucket policy of x", "s3", block_public=True)
    edges = {(e.src, e.relation) for e in found.edges}
    assert ("account:999988887777", W) in edges  # non-public grants always stay
    assert ((PUBLIC, R) not in edges) is blocked
    assert bool(found.public_blocked) is blocked
    if blocked:
        assert found.public_blocked == (
            "bucket policy of x, statement 'Anyone' (s3:GetObject) grants can_read",
        )


def test_public_grants_stay_without_block():
    found = rights_from_policy(policy(allow("*", "s3:GetObject")), BUCKET, "p", "s3")
    assert {(e.src, e.relation) for e in found.edges} == {(PUBLIC, R)}
    assert found.public_blocked == ()


OWNER = "75aa57f09aa0c8caeab4f8c24e99d10f"


def grant(grantee: dict[str, str], permission: str) -> dict[str, Any]:
    return {"Grantee": grantee, "Permission": permission}


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        (
            [grant({"Type": "CanonicalUser", "ID": OWNER}, "FULL_CONTROL")],
            {("account:123456789012", r) for r in (R, W, A)},
        ),
        ([grant({"Type": "Group", "URI": ALL_USERS}, "READ")], {(PUBLIC, R)}),
        ([grant({"Type": "Group", "URI": AUTHENTICATED_USERS}, "READ")], {(PUBLIC, R)}),
        ([grant({"Type": "Group", "URI": ALL_USERS}, "WRITE")], {(PUBLIC, W)}),
        ([grant({"Type": "Group", "URI": ALL_USERS}, "WRITE_ACP")], {(PUBLIC, A)}),
        (
            [grant({"Type": "Group", "URI": ALL_USERS}, "FULL_CONTROL")],
            {(PUBLIC, R), (PUBLIC, W), (PUBLIC, A)},
        ),
        ([grant({"Type": "Group", "URI": ALL_USERS}, "READ_ACP")], set()),
        (
            [grant({"Type": "Group", "URI": LOG_DELIVERY}, "WRITE")],
            {("service:logging.s3.amazonaws.com", W)},
        ),
        (
            [grant({"Type": "CanonicalUser", "ID": "abc", "DisplayName": "vendor"}, "READ")],
            {("canonical:abc", R)},
        ),
        (
            [grant({"Type": "AmazonCustomerByEmail", "EmailAddress": "x@example.cn"}, "READ")],
            {("email:x@example.cn", R)},
        ),
    ],
)
def test_acl_grants_become_rights(grants, expected):
    found = rights_from_acl(grants, BUCKET, OWNER, "account:123456789012")
    assert {(e.src, e.relation) for e in found.edges} == expected


def test_ignore_public_acls_blocks_only_public_grants():
    grants = [
        grant({"Type": "Group", "URI": ALL_USERS}, "READ"),
        grant({"Type": "CanonicalUser", "ID": "abc"}, "WRITE"),
    ]
    found = rights_from_acl(grants, BUCKET, OWNER, "account:123456789012", ignore_public=True)
    assert {(e.src, e.relation) for e in found.edges} == {("canonical:abc", W)}
    assert found.public_blocked == (f"ACL of {BUCKET} grants READ to AllUsers → can_read",)
