"""Evaluation cases as data: policy set, request, expected decision, and the AWS rule exercised.

Rule strings cite the AWS documentation page (IAM User Guide unless named) and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.access import Decision, PolicySet, Request

A = "111111111111"
B = "222222222222"
USER = f"arn:aws-cn:iam::{A}:user/alice"
BOB = f"arn:aws-cn:iam::{A}:user/bob"
ROLE = f"arn:aws-cn:iam::{A}:role/app"
SESSION = f"arn:aws-cn:sts::{A}:assumed-role/app/s1"
ROOT_A = f"arn:aws-cn:iam::{A}:root"
ROOT_B = f"arn:aws-cn:iam::{B}:root"
EXT_USER = f"arn:aws-cn:iam::{B}:user/vendor"
BUCKET = "arn:aws-cn:s3:::data"
OBJ = "arn:aws-cn:s3:::data/report.csv"
KEY = f"arn:aws-cn:kms:cn-north-1:{A}:key/1234abcd"
QUEUE = f"arn:aws-cn:sqs:cn-north-1:{A}:orders"
TARGET_ROLE = f"arn:aws-cn:iam::{A}:role/target"
SLR = f"arn:aws-cn:iam::{A}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"

ALLOW = Decision.ALLOW
EXPLICIT = Decision.EXPLICIT_DENY
IMPLICIT = Decision.IMPLICIT_DENY
CONDITIONAL = Decision.CONDITIONAL

EVAL = "Policy evaluation logic"
IN_ACCOUNT = "Determining whether a request is allowed or denied within an account"
CROSS = "Cross-account policy evaluation logic"
ACTION = "IAM JSON policy elements: Action/NotAction"
RESOURCE = "IAM JSON policy elements: Resource/NotResource"
PRINCIPAL = "IAM JSON policy elements: Principal"
NOT_PRINCIPAL = "IAM JSON policy elements: NotPrincipal"
CONDITION = "IAM JSON policy elements: Condition operators"
BOUNDARY = "Permissions boundaries for IAM entities"
SCP = "AWS Organizations: Service control policies"
RCP = "AWS Organizations: Resource control policies"
KMS = "AWS KMS Developer Guide: Key policies in AWS KMS"
TRUST = "IAM roles: role trust policies"
ARN = "IAM identifiers: ARNs and partitions"


@dataclass(frozen=True)
class Case:
    name: str
    policies: PolicySet
    request: Request
    expected: Decision
    rule: str
    reason: str | None = None  # substring that some reason must contain
    pending: tuple[str, ...] | None = None  # exact pending keys, when checked


def st(
    effect: str = "Allow",
    action: str | list[str] = "s3:GetObject",
    resource: str | list[str] | None = OBJ,
    **extra: Any,
) -> dict[str, Any]:
    """One statement; `extra` adds elements (Sid, Principal, Condition, NotAction …)."""
    body: dict[str, Any] = {"Effect": effect}
    if "NotAction" not in extra:
        body["Action"] = action
    if resource is not None and "NotResource" not in extra:
        body["Resource"] = resource
    body.update(extra)
    return body


def doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def req(
    principal: str = USER,
    action: str = "s3:GetObject",
    resource: str = OBJ,
    resource_account: str | None = A,
    account: str | None = None,
    ctx: Mapping[str, str | bool | Sequence[str]] | None = None,
) -> Request:
    principal_account = account or (principal.split(":")[4] if principal.startswith("arn:") else "")
    return Request(principal, principal_account, action, resource, resource_account, ctx or {})


def ids(*statements: Mapping[str, Any]) -> PolicySet:
    """Only identity policies, one per statement."""
    return PolicySet(identity=[doc(s) for s in statements])


ALLOW_ALL = doc(st(action="*", resource="*", Sid="FullAWSAccess"))
ID_GET = doc(st(Sid="IdentityGet"))
ID_ALL = doc(st(action="*", resource="*", Sid="IdentityAll"))
BOUNDARY_EC2 = doc(st(action="ec2:*", resource="*", Sid="BoundaryEc2Only"))
BOUNDARY_S3 = doc(st(action="s3:*", resource="*", Sid="BoundaryS3"))


def res(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return doc(*statements)


def _cond_case(
    name: str,
    op: str,
    key: str,
    value: Any,
    expected: Decision,
    principal: str = USER,
    ctx: Mapping[str, str | bool | Sequence[str]] | None = None,
) -> Case:
    """Identity Allow of s3:GetObject under one condition, requested with context `ctx`."""
    policies = ids(st(Sid="Conditional", Condition={op: {key: value}}))
    pending = (key,) if expected is Decision.CONDITIONAL else None
    return Case(
        name, policies, req(principal, ctx=ctx), expected, f"{CONDITION}: {op}", pending=pending
    )


CASES: list[Case] = [
    # --- basic decision flow ------------------------------------------------------------------
    Case(
        "identity_allow_matches",
        ids(st(Sid="ReadReport")),
        req(),
        ALLOW,
        f"{IN_ACCOUNT}: an identity-based Allow suffices",
        reason="'ReadReport'",
    ),
    Case(
        "no_policy_is_implicit_deny",
        PolicySet(identity=[]),
        req(),
        IMPLICIT,
        f"{EVAL}: requests are implicitly denied by default",
    ),
    Case(
        "allow_for_other_action_only",
        ids(st(action="s3:PutObject")),
        req(),
        IMPLICIT,
        f"{EVAL}: implicit deny when no statement allows",
    ),
    Case(
        "explicit_deny_overrides_allow",
        PolicySet(identity=[doc(st(Sid="Read"), st("Deny", Sid="NoReports"))]),
        req(),
        EXPLICIT,
        f"{EVAL}: an explicit deny in any policy overrides any allow",
        reason="'NoReports'",
    ),
    Case(
        "deny_in_second_identity_policy_overrides",
        PolicySet(identity=[ID_GET, doc(st("Deny", action="s3:*", resource="*", Sid="D"))]),
        req(),
        EXPLICIT,
        f"{EVAL}: explicit deny in any identity policy",
        reason="#1",
    ),
    Case(
        "deny_in_bucket_policy_overrides_identity_allow",
        PolicySet(identity=[ID_GET], resource=res(st("Deny", Principal="*", Sid="BucketDeny"))),
        req(),
        EXPLICIT,
        f"{EVAL}: explicit deny in a resource-based policy",
        reason="resource policy, statement 'BucketDeny'",
    ),
    Case(
        "single_statement_object_accepted",
        PolicySet(identity=[{"Version": "2012-10-17", "Statement": st(Sid="Solo")}]),
        req(),
        ALLOW,
        "IAM JSON policy elements: Statement (a single object is accepted)",
    ),
    Case(
        "policy_id_names_the_policy",
        PolicySet(identity=[{"Id": "ReadOnly", "Statement": [st()]}]),
        req(),
        ALLOW,
        "IAM JSON policy elements: Id",
        reason="identity policy 'ReadOnly', statement #0",
    ),
    Case(
        "root_user_needs_no_identity_policy",
        PolicySet(identity=[]),
        req(ROOT_A),
        ALLOW,
        "AWS account root user: full access to the account's resources",
    ),
    Case(
        "root_user_still_hit_by_bucket_deny",
        PolicySet(identity=[], resource=res(st("Deny", Principal={"AWS": ROOT_A}))),
        req(ROOT_A),
        EXPLICIT,
        f"{EVAL}: explicit deny applies to the root user too",
    ),
    # --- Action / NotAction -------------------------------------------------------------------
    Case(
        "action_prefix_wildcard",
        ids(st(action="s3:Get*")),
        req(),
        ALLOW,
        f"{ACTION}: * matches any characters",
    ),
    Case(
        "action_case_insensitive",
        ids(st(action="S3:getOBJECT")),
        req(),
        ALLOW,
        f"{ACTION}: action names are case-insensitive",
    ),
    Case(
        "action_question_mark",
        ids(st(action="s3:GetObjec?")),
        req(),
        ALLOW,
        f"{ACTION}: ? matches one character",
    ),
    Case("action_star_alone", ids(st(action="*")), req(), ALLOW, f"{ACTION}: * is every action"),
    Case(
        "action_list_any_entry",
        ids(st(action=["s3:PutObject", "s3:GetObject"])),
        req(),
        ALLOW,
        f"{ACTION}: a list matches when any entry matches",
    ),
    Case(
        "action_other_service",
        ids(st(action="s3express:GetObject")),
        req(),
        IMPLICIT,
        f"{ACTION}: the service prefix must match",
    ),
    Case(
        "notaction_allows_unlisted",
        ids(st(NotAction="iam:*")),
        req(),
        ALLOW,
        f"{ACTION}: NotAction matches every action except those listed",
    ),
    Case(
        "notaction_excludes_listed",
        ids(st(NotAction=["s3:GetObject"])),
        req(),
        IMPLICIT,
        f"{ACTION}: NotAction does not match the listed actions",
    ),
    Case(
        "deny_notaction_denies_the_rest",
        PolicySet(identity=[ID_ALL, doc(st("Deny", resource="*", NotAction="s3:Get*"))]),
        req(action="s3:PutObject"),
        EXPLICIT,
        f"{ACTION}: Deny with NotAction",
    ),
    Case(
        "deny_notaction_spares_listed",
        PolicySet(identity=[ID_ALL, doc(st("Deny", resource="*", NotAction="s3:Get*"))]),
        req(),
        ALLOW,
        f"{ACTION}: Deny with NotAction leaves listed actions alone",
    ),
    # --- Resource / NotResource ---------------------------------------------------------------
    Case(
        "resource_case_sensitive",
        ids(st(resource="arn:aws-cn:s3:::DATA/*")),
        req(),
        IMPLICIT,
        f"{RESOURCE}: resource ARNs are case-sensitive",
    ),
    Case(
        "resource_star_within_segment",
        ids(st(resource="arn:aws-cn:s3:::da*/*")),
        req(),
        ALLOW,
        f"{RESOURCE}: * within an ARN segment",
    ),
    Case(
        "resource_question_mark",
        ids(st(resource="arn:aws-cn:s3:::dat?/report.csv")),
        req(),
        ALLOW,
        f"{RESOURCE}: ? within an ARN segment",
    ),
    Case(
        "bucket_arn_does_not_cover_objects",
        ids(st(resource=BUCKET)),
        req(),
        IMPLICIT,
        f"{RESOURCE}: bucket ARN and object ARNs differ",
    ),
    Case(
        "resource_region_wildcard_segment",
        ids(st(action="sqs:SendMessage", resource=f"arn:aws-cn:sqs:*:{A}:ord*")),
        req(action="sqs:SendMessage", resource=QUEUE),
        ALLOW,
        f"{RESOURCE}: * as a whole segment",
    ),
    Case(
        "resource_wildcard_stays_in_segment",
        ids(st(action="sqs:SendMessage", resource=f"arn:aws-cn:sqs:*:orders:{A}")),
        req(action="sqs:SendMessage", resource=QUEUE),
        IMPLICIT,
        f"{RESOURCE}: wildcards match within each colon-separated segment",
    ),
    Case(
        "resource_list_any_entry",
        ids(st(resource=["arn:aws-cn:s3:::other/*", OBJ])),
        req(),
        ALLOW,
        f"{RESOURCE}: a list matches when any entry matches",
    ),
    Case(
        "notresource_allows_others",
        ids(st(resource=None, NotResource="arn:aws-cn:s3:::x/*")),
        req(),
        ALLOW,
        f"{RESOURCE}: NotResource matches every resource except those listed",
    ),
    Case(
        "notresource_excludes_listed",
        ids(st(resource=None, NotResource="arn:aws-cn:s3:::data/*")),
        req(),
        IMPLICIT,
        f"{RESOURCE}: NotResource does not match the listed resources",
    ),
    Case(
        "deny_notresource_fences_other_buckets",
        PolicySet(
            identity=[
                ID_ALL,
                doc(st("Deny", action="s3:*", resource=None, NotResource="arn:aws-cn:s3:::safe/*")),
            ]
        ),
        req(),
        EXPLICIT,
        f"{RESOURCE}: Deny with NotResource denies everything else",
    ),
    # --- partitions ---------------------------------------------------------------------------
    Case(
        "partition_aws",
        ids(st(resource="arn:aws:s3:::data/*")),
        req(f"arn:aws:iam::{A}:user/alice", resource="arn:aws:s3:::data/x"),
        ALLOW,
        f"{ARN}: partition aws",
    ),
    Case(
        "partition_aws_eusc",
        ids(st(resource="arn:aws-eusc:s3:::data/*")),
        req(f"arn:aws-eusc:iam::{A}:user/alice", resource="arn:aws-eusc:s3:::data/x"),
        ALLOW,
        f"{ARN}: partition aws-eusc",
    ),
    Case(
        "partition_mismatch_in_resource",
        ids(st(resource="arn:aws:s3:::data/*")),
        req(),
        IMPLICIT,
        f"{ARN}: the partition is part of the ARN",
    ),
    Case(
        "partition_mismatch_in_principal",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": f"arn:aws:iam::{A}:user/alice"}))),
        req(),
        IMPLICIT,
        f"{ARN}: a principal ARN of another partition names someone else",
    ),
    Case(
        "partition_aws_eusc_cross_account",
        PolicySet(
            identity=[doc(st(resource="arn:aws-eusc:s3:::data/*"))],
            resource=res(
                st(
                    resource="arn:aws-eusc:s3:::data/*",
                    Principal={"AWS": f"arn:aws-eusc:iam::{B}:root"},
                )
            ),
        ),
        req(f"arn:aws-eusc:iam::{B}:user/vendor", resource="arn:aws-eusc:s3:::data/x"),
        ALLOW,
        f"{ARN}: aws-eusc account root principal",
    ),
    # --- Principal in resource policies (same account) ----------------------------------------
    Case(
        "bucket_policy_names_user_alone_suffices",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": USER}, Sid="UserRead"))),
        req(),
        ALLOW,
        f"{IN_ACCOUNT}: a resource-based Allow suffices within the account",
        reason="'UserRead'",
    ),
    Case(
        "bucket_policy_principal_star",
        PolicySet(identity=[], resource=res(st(Principal="*"))),
        req(),
        ALLOW,
        f'{PRINCIPAL}: "*" is everyone',
    ),
    Case(
        "bucket_policy_principal_aws_star",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": "*"}))),
        req(),
        ALLOW,
        f'{PRINCIPAL}: {{"AWS": "*"}} is everyone',
    ),
    Case(
        "account_id_principal_delegates",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": A}))),
        req(),
        IMPLICIT,
        f"{PRINCIPAL}: an account principal delegates to the account's identity policies",
    ),
    Case(
        "account_id_principal_with_identity_allow",
        PolicySet(identity=[ID_GET], resource=res(st(Principal={"AWS": A}))),
        req(),
        ALLOW,
        f"{PRINCIPAL}: account principal plus identity Allow",
    ),
    Case(
        "root_arn_principal_delegates",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": ROOT_A}))),
        req(),
        IMPLICIT,
        f"{PRINCIPAL}: arn:<partition>:iam::<account>:root means the account",
    ),
    Case(
        "role_arn_principal_matches_session",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": ROLE}))),
        req(SESSION),
        ALLOW,
        f"{PRINCIPAL}: a role principal covers its sessions",
    ),
    Case(
        "role_arn_with_path_matches_session",
        PolicySet(
            identity=[], resource=res(st(Principal={"AWS": f"arn:aws-cn:iam::{A}:role/team/app"}))
        ),
        req(SESSION),
        ALLOW,
        f"{PRINCIPAL}: role sessions drop the role path",
    ),
    Case(
        "session_arn_principal_exact",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": SESSION}))),
        req(SESSION),
        ALLOW,
        f"{PRINCIPAL}: assumed-role session principal",
    ),
    Case(
        "other_session_not_matched",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": SESSION}))),
        req(f"arn:aws-cn:sts::{A}:assumed-role/app/s2"),
        IMPLICIT,
        f"{PRINCIPAL}: a session principal names one session",
    ),
    Case(
        "other_user_not_matched",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": BOB}))),
        req(),
        IMPLICIT,
        f"{PRINCIPAL}: a user principal names that user only",
    ),
    Case(
        "principal_string_list",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": [BOB, USER]}))),
        req(),
        ALLOW,
        f"{PRINCIPAL}: a list matches when any entry matches",
    ),
    Case(
        "service_principal_allowed",
        PolicySet(
            identity=[],
            resource=res(
                st(action="s3:PutObject", Principal={"Service": "cloudtrail.amazonaws.com"})
            ),
        ),
        req("cloudtrail.amazonaws.com", action="s3:PutObject", account=""),
        ALLOW,
        f"{PRINCIPAL}: service principals",
    ),
    Case(
        "service_principal_other_service",
        PolicySet(identity=[], resource=res(st(Principal={"Service": "logs.amazonaws.com"}))),
        req("cloudtrail.amazonaws.com", account=""),
        IMPLICIT,
        f"{PRINCIPAL}: service principals",
    ),
    Case(
        "service_principal_needs_resource_policy",
        PolicySet(identity=[ID_ALL]),
        req("cloudtrail.amazonaws.com", account=""),
        IMPLICIT,
        f"{PRINCIPAL}: a service is granted access by resource-based policies only",
    ),
    # --- NotPrincipal -------------------------------------------------------------------------
    Case(
        "deny_notprincipal_exempts_user_and_account",
        PolicySet(
            identity=[ID_GET], resource=res(st("Deny", NotPrincipal={"AWS": [USER, ROOT_A]}))
        ),
        req(),
        ALLOW,
        f"{NOT_PRINCIPAL}: listed principals are exempt from the Deny",
    ),
    Case(
        "deny_notprincipal_user_without_account_denies",
        PolicySet(identity=[ID_GET], resource=res(st("Deny", NotPrincipal={"AWS": USER}))),
        req(),
        EXPLICIT,
        f"{NOT_PRINCIPAL}: the account must be listed with the user",
    ),
    Case(
        "deny_notprincipal_denies_others",
        PolicySet(
            identity=[ID_GET],
            resource=res(st("Deny", NotPrincipal={"AWS": [BOB, ROOT_A]}, Sid="OnlyBob")),
        ),
        req(),
        EXPLICIT,
        f"{NOT_PRINCIPAL}: Deny applies to everyone not listed",
        reason="'OnlyBob'",
    ),
    Case(
        "deny_notprincipal_role_arn_does_not_exempt_session",
        PolicySet(
            identity=[ID_GET], resource=res(st("Deny", NotPrincipal={"AWS": [ROLE, ROOT_A]}))
        ),
        req(SESSION),
        EXPLICIT,
        f"{NOT_PRINCIPAL}: name the assumed-role session ARN",
    ),
    Case(
        "deny_notprincipal_session_and_account_exempt",
        PolicySet(identity=[ID_GET], resource=res(st("Deny", NotPrincipal={"AWS": [SESSION, A]}))),
        req(SESSION),
        ALLOW,
        f"{NOT_PRINCIPAL}: session ARN and account listed",
    ),
    Case(
        "deny_notprincipal_always_denies_bounded_principal",
        PolicySet(
            identity=[ID_GET],
            boundary=BOUNDARY_S3,
            resource=res(st("Deny", NotPrincipal={"AWS": [USER, ROOT_A]})),
        ),
        req(),
        EXPLICIT,
        f"{BOUNDARY}: Deny with NotPrincipal always denies a bounded principal",
    ),
    Case(
        "allow_notprincipal_grants_others",
        PolicySet(identity=[], resource=res(st(NotPrincipal={"AWS": [BOB, ROOT_A]}))),
        req(),
        ALLOW,
        f"{NOT_PRINCIPAL}: Allow with NotPrincipal grants everyone not listed",
    ),
    Case(
        "allow_notprincipal_skips_listed",
        PolicySet(identity=[], resource=res(st(NotPrincipal={"AWS": [USER, ROOT_A]}))),
        req(),
        IMPLICIT,
        f"{NOT_PRINCIPAL}: listed principals get nothing",
    ),
    # --- cross-account ------------------------------------------------------------------------
    Case(
        "cross_account_both_sides_allow",
        PolicySet(identity=[ID_GET], resource=res(st(Principal={"AWS": EXT_USER}))),
        req(EXT_USER),
        ALLOW,
        f"{CROSS}: identity and resource policies both allow",
    ),
    Case(
        "cross_account_identity_only",
        PolicySet(identity=[ID_GET]),
        req(EXT_USER),
        IMPLICIT,
        f"{CROSS}: the resource policy of the trusting account must allow",
        reason="cross-account",
    ),
    Case(
        "cross_account_resource_only",
        PolicySet(identity=[], resource=res(st(Principal={"AWS": EXT_USER}))),
        req(EXT_USER),
        IMPLICIT,
        f"{CROSS}: the caller's identity policy must allow",
    ),
    Case(
        "cross_account_root_delegation",
        PolicySet(identity=[ID_GET], resource=res(st(Principal={"AWS": ROOT_B}))),
        req(EXT_USER),
        ALLOW,
        f"{CROSS}: trusting the account root delegates to its admins",
    ),
    Case(
        "cross_account_account_id_principal",
        PolicySet(identity=[ID_GET], resource=res(st(Principal={"AWS": B}))),
        req(EXT_USER),
        ALLOW,
        f"{CROSS}: account id principal",
    ),
    Case(
        "cross_account_other_account_named",
        PolicySet(identity=[ID_GET], resource=res(st(Principal={"AWS": "333333333333"}))),
        req(EXT_USER),
        IMPLICIT,
        f"{CROSS}: another account is not the caller's",
    ),
    Case(
        "cross_account_resource_deny",
        PolicySet(
            identity=[ID_GET],
            resource=res(st(Principal={"AWS": B}), st("Deny", Principal={"AWS": EXT_USER})),
        ),
        req(EXT_USER),
        EXPLICIT,
        f"{CROSS}: explicit deny in either account",
    ),
    Case(
        "cross_account_star_principal_still_needs_identity",
        PolicySet(identity=[], resource=res(st(Principal="*"))),
        req(EXT_USER),
        IMPLICIT,
        f"{CROSS}: identity side must allow even for a public grant",
    ),
    Case(
        "unknown_resource_account_is_conditional",
        PolicySet(identity=[ID_GET]),
        req(resource_account=None),
        CONDITIONAL,
        f"{CROSS}: decided by whether the bucket is in the caller's account",
        pending=("resource_account",),
    ),
    Case(
        "unknown_resource_account_same_answer",
        PolicySet(identity=[ID_GET], resource=res(st(Principal={"AWS": USER}))),
        req(resource_account=None),
        ALLOW,
        f"{CROSS}: both sides allow, so the account does not matter",
    ),
    Case(
        "resource_account_read_from_arn",
        PolicySet(identity=[doc(st(action="sqs:SendMessage", resource=QUEUE))]),
        req(EXT_USER, action="sqs:SendMessage", resource=QUEUE, resource_account=None),
        IMPLICIT,
        f"{CROSS}: the queue ARN names account {A}",
    ),
    # --- KMS key policies ---------------------------------------------------------------------
    Case(
        "kms_root_delegation_with_identity",
        PolicySet(
            identity=[doc(st(action="kms:Decrypt", resource=KEY))],
            resource=res(
                st(action="kms:*", resource="*", Principal={"AWS": ROOT_A}, Sid="EnableIAM")
            ),
            resource_is_kms_key=True,
        ),
        req(action="kms:Decrypt", resource=KEY),
        ALLOW,
        f"{KMS}: the root principal lets IAM policies grant access",
        reason="'EnableIAM'",
    ),
    Case(
        "kms_root_delegation_without_identity",
        PolicySet(
            identity=[],
            resource=res(st(action="kms:*", resource="*", Principal={"AWS": ROOT_A})),
            resource_is_kms_key=True,
        ),
        req(action="kms:Decrypt", resource=KEY),
        IMPLICIT,
        f"{KMS}: delegation still needs an IAM policy",
    ),
    Case(
        "kms_key_policy_names_user",
        PolicySet(
            identity=[],
            resource=res(st(action="kms:Decrypt", resource="*", Principal={"AWS": USER})),
            resource_is_kms_key=True,
        ),
        req(action="kms:Decrypt", resource=KEY),
        ALLOW,
        f"{KMS}: a key policy naming the principal suffices",
    ),
    Case(
        "kms_identity_without_key_policy_grant",
        PolicySet(
            identity=[doc(st(action="kms:*", resource="*"))],
            resource=res(st(action="kms:*", resource="*", Principal={"AWS": BOB})),
            resource_is_kms_key=True,
        ),
        req(action="kms:Decrypt", resource=KEY),
        IMPLICIT,
        f"{KMS}: without key policy allow or delegation, IAM policies are not effective",
        reason="key policy",
    ),
    Case(
        "kms_no_key_policy_given",
        PolicySet(identity=[doc(st(action="kms:*", resource="*"))], resource_is_kms_key=True),
        req(action="kms:Decrypt", resource=KEY),
        IMPLICIT,
        f"{KMS}: every key needs a key policy",
    ),
    Case(
        "kms_cross_account_both_sides",
        PolicySet(
            identity=[doc(st(action="kms:Decrypt", resource=KEY))],
            resource=res(st(action="kms:Decrypt", resource="*", Principal={"AWS": ROOT_B})),
            resource_is_kms_key=True,
        ),
        req(EXT_USER, action="kms:Decrypt", resource=KEY),
        ALLOW,
        f"{KMS}: cross-account use needs key policy and external IAM policy",
    ),
    Case(
        "kms_cross_account_identity_only",
        PolicySet(
            identity=[doc(st(action="kms:Decrypt", resource=KEY))],
            resource=res(st(action="kms:*", resource="*", Principal={"AWS": ROOT_A})),
            resource_is_kms_key=True,
        ),
        req(EXT_USER, action="kms:Decrypt", resource=KEY),
        IMPLICIT,
        f"{KMS}: the key policy must name the external account",
    ),
    Case(
        "kms_key_policy_deny",
        PolicySet(
            identity=[doc(st(action="kms:*", resource="*"))],
            resource=res(
                st(action="kms:*", resource="*", Principal={"AWS": ROOT_A}),
                st("Deny", action="kms:Decrypt", resource="*", Principal="*", Sid="NoDecrypt"),
            ),
            resource_is_kms_key=True,
        ),
        req(action="kms:Decrypt", resource=KEY),
        EXPLICIT,
        f"{KMS}: explicit deny in key policy",
        reason="key policy, statement 'NoDecrypt'",
    ),
    Case(
        "kms_via_service_missing_is_conditional",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="kms:Decrypt",
                    resource="*",
                    Principal={"AWS": USER},
                    Condition={
                        "StringEquals": {"kms:ViaService": "s3.cn-north-1.amazonaws.com.cn"}
                    },
                )
            ),
            resource_is_kms_key=True,
        ),
        req(action="kms:Decrypt", resource=KEY),
        CONDITIONAL,
        f"{KMS}: kms:ViaService condition",
        pending=("kms:ViaService",),
    ),
    Case(
        "kms_role_grant_limited_by_boundary",
        PolicySet(
            identity=[],
            boundary=BOUNDARY_EC2,
            resource=res(st(action="kms:Decrypt", resource="*", Principal={"AWS": ROLE})),
            resource_is_kms_key=True,
        ),
        req(SESSION, action="kms:Decrypt", resource=KEY),
        IMPLICIT,
        f"{BOUNDARY}: a grant to the role ARN is limited by the boundary",
    ),
    # --- role trust policies ------------------------------------------------------------------
    Case(
        "trust_names_user_same_account",
        PolicySet(
            identity=[],
            resource=res(st(action="sts:AssumeRole", resource=None, Principal={"AWS": USER})),
        ),
        req(action="sts:AssumeRole", resource=TARGET_ROLE),
        ALLOW,
        f"{TRUST}: naming the user in the same account needs no identity policy",
    ),
    Case(
        "trust_names_account_needs_identity",
        PolicySet(
            identity=[],
            resource=res(st(action="sts:AssumeRole", resource=None, Principal={"AWS": ROOT_A})),
        ),
        req(action="sts:AssumeRole", resource=TARGET_ROLE),
        IMPLICIT,
        f"{TRUST}: trusting the account delegates to identity policies",
    ),
    Case(
        "trust_names_account_with_identity",
        PolicySet(
            identity=[doc(st(action="sts:AssumeRole", resource=TARGET_ROLE))],
            resource=res(st(action="sts:AssumeRole", resource=None, Principal={"AWS": ROOT_A})),
        ),
        req(action="sts:AssumeRole", resource=TARGET_ROLE),
        ALLOW,
        f"{TRUST}: account trust plus identity Allow",
    ),
    Case(
        "trust_policy_missing",
        PolicySet(identity=[doc(st(action="sts:AssumeRole", resource="*"))]),
        req(action="sts:AssumeRole", resource=TARGET_ROLE),
        IMPLICIT,
        f"{TRUST}: the trust policy must allow",
    ),
    Case(
        "trust_does_not_name_caller",
        PolicySet(
            identity=[doc(st(action="sts:AssumeRole", resource="*"))],
            resource=res(st(action="sts:AssumeRole", resource=None, Principal={"AWS": BOB})),
        ),
        req(action="sts:AssumeRole", resource=TARGET_ROLE),
        IMPLICIT,
        f"{TRUST}: identity Allow alone does not let a principal assume a role",
    ),
    Case(
        "trust_external_id_matches",
        PolicySet(
            identity=[doc(st(action="sts:AssumeRole", resource="*"))],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"AWS": B},
                    Condition={"StringEquals": {"sts:ExternalId": "gov-42"}},
                )
            ),
        ),
        req(
            EXT_USER,
            action="sts:AssumeRole",
            resource=TARGET_ROLE,
            ctx={"sts:ExternalId": "gov-42"},
        ),
        ALLOW,
        f"{TRUST}: sts:ExternalId for third parties",
    ),
    Case(
        "trust_external_id_differs",
        PolicySet(
            identity=[doc(st(action="sts:AssumeRole", resource="*"))],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"AWS": B},
                    Condition={"StringEquals": {"sts:ExternalId": "gov-42"}},
                )
            ),
        ),
        req(EXT_USER, action="sts:AssumeRole", resource=TARGET_ROLE, ctx={"sts:ExternalId": "x"}),
        IMPLICIT,
        f"{TRUST}: sts:ExternalId mismatch",
    ),
    Case(
        "trust_external_id_unknown",
        PolicySet(
            identity=[doc(st(action="sts:AssumeRole", resource="*"))],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"AWS": B},
                    Condition={"StringEquals": {"sts:ExternalId": "gov-42"}},
                )
            ),
        ),
        req(EXT_USER, action="sts:AssumeRole", resource=TARGET_ROLE),
        CONDITIONAL,
        f"{TRUST}: a missing key leaves the decision open",
        pending=("sts:ExternalId",),
    ),
    Case(
        "trust_mfa_present",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"AWS": USER},
                    Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                )
            ),
        ),
        req(
            action="sts:AssumeRole", resource=TARGET_ROLE, ctx={"aws:MultiFactorAuthPresent": True}
        ),
        ALLOW,
        f"{TRUST}: MFA condition",
    ),
    Case(
        "trust_mfa_absent_false",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"AWS": USER},
                    Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                )
            ),
        ),
        req(
            action="sts:AssumeRole", resource=TARGET_ROLE, ctx={"aws:MultiFactorAuthPresent": False}
        ),
        IMPLICIT,
        f"{TRUST}: MFA condition not met",
    ),
    Case(
        "trust_mfa_unknown",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"AWS": USER},
                    Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                )
            ),
        ),
        req(action="sts:AssumeRole", resource=TARGET_ROLE),
        CONDITIONAL,
        f"{TRUST}: MFA unknown",
        pending=("aws:MultiFactorAuthPresent",),
    ),
    Case(
        "trust_source_identity_like",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action=["sts:AssumeRole", "sts:SetSourceIdentity"],
                    resource=None,
                    Principal={"AWS": USER},
                    Condition={"StringLike": {"sts:SourceIdentity": "staff-*"}},
                )
            ),
        ),
        req(
            action="sts:SetSourceIdentity",
            resource=TARGET_ROLE,
            ctx={"sts:SourceIdentity": "staff-7"},
        ),
        ALLOW,
        f"{TRUST}: sts:SourceIdentity condition",
    ),
    Case(
        "trust_service_with_source_account",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"Service": "lambda.amazonaws.com"},
                    Condition={"StringEquals": {"aws:SourceAccount": A}},
                )
            ),
        ),
        req(
            "lambda.amazonaws.com",
            account="",
            action="sts:AssumeRole",
            resource=TARGET_ROLE,
            ctx={"aws:SourceAccount": A},
        ),
        ALLOW,
        f"{TRUST}: confused-deputy protection with aws:SourceAccount",
    ),
    Case(
        "trust_service_other_source_account",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="sts:AssumeRole",
                    resource=None,
                    Principal={"Service": "lambda.amazonaws.com"},
                    Condition={"StringEquals": {"aws:SourceAccount": A}},
                )
            ),
        ),
        req(
            "lambda.amazonaws.com",
            account="",
            action="sts:AssumeRole",
            resource=TARGET_ROLE,
            ctx={"aws:SourceAccount": B},
        ),
        IMPLICIT,
        f"{TRUST}: aws:SourceAccount mismatch",
    ),
    Case(
        "trust_federated_saml",
        PolicySet(
            identity=[],
            resource=res(
                st(
                    action="sts:AssumeRoleWithSAML",
                    resource=None,
                    Principal={"Federated": f"arn:aws-cn:iam::{A}:saml-provider/GovIdP"},
                    Condition={"StringEquals": {"SAML:aud": "https://signin.amazonaws.cn/saml"}},
                )
            ),
        ),
        req(
            f"arn:aws-cn:iam::{A}:saml-provider/GovIdP",
            action="sts:AssumeRoleWithSAML",
            resource=TARGET_ROLE,
            ctx={"SAML:aud": "https://signin.amazonaws.cn/saml"},
        ),
        ALLOW,
        f"{PRINCIPAL}: Federated principals in trust policies",
    ),
    Case(
        "deny_without_mfa_ifexists_absent",
        PolicySet(
            identity=[
                ID_ALL,
                doc(
                    st(
                        "Deny",
                        action="*",
                        resource="*",
                        Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                    )
                ),
            ]
        ),
        req(ctx={"aws:MultiFactorAuthPresent": []}),
        EXPLICIT,
        f"{CONDITION}: BoolIfExists is true when the key is absent",
    ),
    # --- permissions boundaries ---------------------------------------------------------------
    Case(
        "boundary_and_identity_allow",
        PolicySet(identity=[ID_GET], boundary=BOUNDARY_S3),
        req(),
        ALLOW,
        f"{BOUNDARY}: effective permissions are the intersection",
    ),
    Case(
        "boundary_does_not_allow",
        PolicySet(identity=[ID_ALL], boundary=BOUNDARY_EC2),
        req(),
        IMPLICIT,
        f"{BOUNDARY}: the boundary caps identity permissions",
        reason="permissions boundary",
    ),
    Case(
        "boundary_alone_grants_nothing",
        PolicySet(identity=[], boundary=BOUNDARY_S3),
        req(),
        IMPLICIT,
        f"{BOUNDARY}: a boundary does not grant permissions",
    ),
    Case(
        "boundary_deny",
        PolicySet(
            identity=[ID_GET],
            boundary=doc(st(action="s3:*", resource="*"), st("Deny", Sid="BoundaryDeny")),
        ),
        req(),
        EXPLICIT,
        f"{BOUNDARY}: explicit deny in a boundary",
        reason="'BoundaryDeny'",
    ),
    Case(
        "boundary_bypassed_by_resource_policy_naming_user",
        PolicySet(identity=[], boundary=BOUNDARY_EC2, resource=res(st(Principal={"AWS": USER}))),
        req(),
        ALLOW,
        f"{BOUNDARY}: within an account a resource policy naming the user is not limited",
    ),
    Case(
        "boundary_bypassed_by_resource_policy_naming_session",
        PolicySet(identity=[], boundary=BOUNDARY_EC2, resource=res(st(Principal={"AWS": SESSION}))),
        req(SESSION),
        ALLOW,
        f"{BOUNDARY}: a resource policy naming the role session is not limited",
    ),
    Case(
        "boundary_limits_resource_policy_naming_role",
        PolicySet(identity=[], boundary=BOUNDARY_EC2, resource=res(st(Principal={"AWS": ROLE}))),
        req(SESSION),
        IMPLICIT,
        f"{BOUNDARY}: a resource policy naming the role ARN is limited",
    ),
    Case(
        "boundary_limits_resource_policy_naming_role_itself",
        PolicySet(identity=[], boundary=BOUNDARY_EC2, resource=res(st(Principal={"AWS": ROLE}))),
        req(ROLE),
        IMPLICIT,
        f"{BOUNDARY}: a resource policy naming the role ARN is limited",
    ),
    Case(
        "boundary_allows_role_grant",
        PolicySet(identity=[], boundary=BOUNDARY_S3, resource=res(st(Principal={"AWS": ROLE}))),
        req(SESSION),
        ALLOW,
        f"{BOUNDARY}: role grant within the boundary",
    ),
    Case(
        "boundary_limits_public_grant",
        PolicySet(identity=[], boundary=BOUNDARY_EC2, resource=res(st(Principal="*"))),
        req(),
        IMPLICIT,
        f"{BOUNDARY}: only grants naming the principal itself bypass the boundary",
    ),
    Case(
        "boundary_applies_cross_account",
        PolicySet(
            identity=[ID_GET], boundary=BOUNDARY_EC2, resource=res(st(Principal={"AWS": EXT_USER}))
        ),
        req(EXT_USER),
        IMPLICIT,
        f"{CROSS}: the caller's boundary applies across accounts",
    ),
    # --- SCPs ---------------------------------------------------------------------------------
    Case(
        "scp_full_access_all_levels",
        PolicySet(identity=[ID_GET], scps=[[ALLOW_ALL], [ALLOW_ALL]]),
        req(),
        ALLOW,
        f"{SCP}: every level from root to account allows",
    ),
    Case(
        "scp_level_without_allow",
        PolicySet(identity=[ID_GET], scps=[[ALLOW_ALL], [doc(st(action="ec2:*", resource="*"))]]),
        req(),
        IMPLICIT,
        f"{SCP}: a level that does not allow denies implicitly",
        reason="SCP level 1",
    ),
    Case(
        "scp_allow_only_at_account_level",
        PolicySet(identity=[ID_GET], scps=[[doc(st(action="ec2:*", resource="*"))], [ALLOW_ALL]]),
        req(),
        IMPLICIT,
        f"{SCP}: an allow below does not make up for the root level",
    ),
    Case(
        "scp_one_of_several_policies_allows",
        PolicySet(identity=[ID_GET], scps=[[doc(st(action="ec2:*", resource="*")), ALLOW_ALL]]),
        req(),
        ALLOW,
        f"{SCP}: any policy at a level may allow",
    ),
    Case(
        "scp_level_empty",
        PolicySet(identity=[ID_GET], scps=[[ALLOW_ALL], []]),
        req(),
        IMPLICIT,
        f"{SCP}: a level with no policy allows nothing",
    ),
    Case(
        "scp_deny",
        PolicySet(
            identity=[ID_GET],
            scps=[[ALLOW_ALL, doc(st("Deny", action="s3:*", resource="*", Sid="NoS3"))]],
        ),
        req(),
        EXPLICIT,
        f"{SCP}: explicit deny in an SCP",
        reason="'NoS3'",
    ),
    Case(
        "scp_alone_grants_nothing",
        PolicySet(identity=[], scps=[[ALLOW_ALL]]),
        req(),
        IMPLICIT,
        f"{SCP}: SCPs grant no permissions",
    ),
    Case(
        "scp_limits_root_user",
        PolicySet(identity=[], scps=[[doc(st(action="ec2:*", resource="*"))]]),
        req(ROOT_A),
        IMPLICIT,
        f"{SCP}: SCPs restrict the root user of member accounts",
    ),
    Case(
        "scp_skips_service_linked_role",
        PolicySet(
            identity=[doc(st(action="s3:*", resource="*"))],
            scps=[[ALLOW_ALL, doc(st("Deny", action="*", resource="*"))]],
        ),
        req(SLR),
        ALLOW,
        f"{SCP}: SCPs don't affect service-linked roles",
    ),
    Case(
        "scp_skips_service_principal",
        PolicySet(
            identity=[],
            resource=res(st(Principal={"Service": "logs.amazonaws.com"})),
            scps=[[doc(st("Deny", action="*", resource="*"))]],
        ),
        req("logs.amazonaws.com", account=""),
        ALLOW,
        f"{SCP}: SCPs restrict IAM principals of member accounts only",
    ),
    Case(
        "scp_region_condition_unknown",
        PolicySet(
            identity=[ID_GET],
            scps=[
                [
                    ALLOW_ALL,
                    doc(
                        st(
                            "Deny",
                            action="*",
                            resource="*",
                            Condition={"StringNotEquals": {"aws:RequestedRegion": ["cn-north-1"]}},
                        )
                    ),
                ]
            ],
        ),
        req(),
        CONDITIONAL,
        f"{SCP}: region-restricting deny with unknown region",
        pending=("aws:RequestedRegion",),
    ),
    Case(
        "scp_region_condition_known",
        PolicySet(
            identity=[ID_GET],
            scps=[
                [
                    ALLOW_ALL,
                    doc(
                        st(
                            "Deny",
                            action="*",
                            resource="*",
                            Condition={"StringNotEquals": {"aws:RequestedRegion": ["cn-north-1"]}},
                        )
                    ),
                ]
            ],
        ),
        req(ctx={"aws:RequestedRegion": "us-east-1"}),
        EXPLICIT,
        f"{SCP}: region outside the list",
    ),
    # --- RCPs ---------------------------------------------------------------------------------
    Case(
        "rcp_full_access",
        PolicySet(identity=[ID_GET], rcps=[[doc(st(action="*", resource="*", Principal="*"))]]),
        req(),
        ALLOW,
        f"{RCP}: RCPFullAWSAccess",
    ),
    Case(
        "rcp_level_without_allow",
        PolicySet(identity=[ID_GET], rcps=[[doc(st(action="sqs:*", resource="*", Principal="*"))]]),
        req(),
        IMPLICIT,
        f"{RCP}: every level must allow",
        reason="RCP level 0",
    ),
    Case(
        "rcp_org_perimeter_outsider_denied",
        PolicySet(
            identity=[ID_GET],
            resource=res(st(Principal={"AWS": B})),
            rcps=[
                [
                    doc(
                        st(action="*", resource="*", Principal="*"),
                        st(
                            "Deny",
                            action="s3:*",
                            resource="*",
                            Principal="*",
                            Sid="Perimeter",
                            Condition={
                                "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-gov"},
                                "Bool": {"aws:PrincipalIsAWSService": "false"},
                            },
                        ),
                    )
                ]
            ],
        ),
        req(EXT_USER, ctx={"aws:PrincipalOrgID": "o-vendor"}),
        EXPLICIT,
        f"{RCP}: identity perimeter with aws:PrincipalOrgID",
        reason="'Perimeter'",
    ),
    Case(
        "rcp_org_perimeter_member_allowed",
        PolicySet(
            identity=[ID_GET],
            resource=res(st(Principal={"AWS": B})),
            rcps=[
                [
                    doc(
                        st(action="*", resource="*", Principal="*"),
                        st(
                            "Deny",
                            action="s3:*",
                            resource="*",
                            Principal="*",
                            Condition={
                                "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-gov"},
                                "Bool": {"aws:PrincipalIsAWSService": "false"},
                            },
                        ),
                    )
                ]
            ],
        ),
        req(EXT_USER, ctx={"aws:PrincipalOrgID": "o-gov"}),
        ALLOW,
        f"{RCP}: principals of the organization pass the perimeter",
    ),
    Case(
        "rcp_org_perimeter_org_unknown",
        PolicySet(
            identity=[ID_GET],
            resource=res(st(Principal={"AWS": B})),
            rcps=[
                [
                    doc(
                        st(action="*", resource="*", Principal="*"),
                        st(
                            "Deny",
                            action="s3:*",
                            resource="*",
                            Principal="*",
                            Condition={
                                "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-gov"},
                                "Bool": {"aws:PrincipalIsAWSService": "false"},
                            },
                        ),
                    )
                ]
            ],
        ),
        req(EXT_USER),
        CONDITIONAL,
        f"{RCP}: unknown aws:PrincipalOrgID leaves the deny open",
        pending=("aws:PrincipalOrgID",),
    ),
    Case(
        "rcp_deny_applies_to_service_principal",
        PolicySet(
            identity=[],
            resource=res(st(Principal={"Service": "logs.amazonaws.com"})),
            rcps=[
                [
                    doc(
                        st(action="*", resource="*", Principal="*"),
                        st(
                            "Deny",
                            action="s3:*",
                            resource="*",
                            Principal="*",
                            Condition={"StringNotEquals": {"aws:SourceAccount": A}},
                        ),
                    )
                ]
            ],
        ),
        req("logs.amazonaws.com", account="", ctx={"aws:SourceAccount": B}),
        EXPLICIT,
        f"{RCP}: confused-deputy protection with aws:SourceAccount",
    ),
    # --- conditions through evaluation --------------------------------------------------------
    _cond_case(
        "string_equals_match",
        "StringEquals",
        "aws:PrincipalTag/dept",
        "finance",
        ALLOW,
        ctx={"aws:PrincipalTag/dept": "finance"},
    ),
    _cond_case(
        "string_equals_case_sensitive",
        "StringEquals",
        "aws:PrincipalTag/dept",
        "finance",
        IMPLICIT,
        ctx={"aws:PrincipalTag/dept": "Finance"},
    ),
    _cond_case(
        "string_equals_values_or",
        "StringEquals",
        "aws:PrincipalTag/dept",
        ["hr", "finance"],
        ALLOW,
        ctx={"aws:PrincipalTag/dept": "finance"},
    ),
    _cond_case(
        "string_not_equals_values_nor",
        "StringNotEquals",
        "aws:PrincipalTag/dept",
        ["hr", "finance"],
        IMPLICIT,
        ctx={"aws:PrincipalTag/dept": "finance"},
    ),
    _cond_case(
        "string_not_equals_known_absent",
        "StringNotEquals",
        "aws:PrincipalTag/dept",
        "hr",
        ALLOW,
        ctx={"aws:PrincipalTag/dept": []},
    ),
    _cond_case(
        "string_equals_known_absent",
        "StringEquals",
        "aws:PrincipalTag/dept",
        "hr",
        IMPLICIT,
        ctx={"aws:PrincipalTag/dept": []},
    ),
    _cond_case(
        "string_equals_ignore_case",
        "StringEqualsIgnoreCase",
        "aws:PrincipalTag/dept",
        "FINANCE",
        ALLOW,
        ctx={"aws:PrincipalTag/dept": "finance"},
    ),
    _cond_case(
        "string_like_wildcard",
        "StringLike",
        "s3:prefix",
        "home/${aws:username}/*",
        ALLOW,
        ctx={"s3:prefix": "home/alice/x", "aws:username": "alice"},
    ),
    _cond_case(
        "string_not_like",
        "StringNotLike",
        "s3:prefix",
        "secret/*",
        IMPLICIT,
        ctx={"s3:prefix": "secret/a"},
    ),
    _cond_case(
        "arn_equals_source_arn",
        "ArnEquals",
        "aws:SourceArn",
        f"arn:aws-cn:cloudtrail:cn-north-1:{A}:trail/main",
        ALLOW,
        ctx={"aws:SourceArn": f"arn:aws-cn:cloudtrail:cn-north-1:{A}:trail/main"},
    ),
    _cond_case(
        "arn_like_source_arn",
        "ArnLike",
        "aws:SourceArn",
        f"arn:aws-cn:cloudtrail:*:{A}:trail/*",
        ALLOW,
        ctx={"aws:SourceArn": f"arn:aws-cn:cloudtrail:cn-north-1:{A}:trail/main"},
    ),
    _cond_case(
        "arn_not_equals_source_arn",
        "ArnNotEquals",
        "aws:SourceArn",
        f"arn:aws-cn:cloudtrail:cn-north-1:{A}:trail/main",
        IMPLICIT,
        ctx={"aws:SourceArn": f"arn:aws-cn:cloudtrail:cn-north-1:{A}:trail/main"},
    ),
    _cond_case(
        "arn_not_like_principal_arn_derived",
        "ArnNotLike",
        "aws:PrincipalArn",
        f"arn:aws-cn:iam::{A}:role/ad*",
        ALLOW,
    ),
    _cond_case(
        "principal_arn_of_session_is_role", "ArnEquals", "aws:PrincipalArn", ROLE, ALLOW, SESSION
    ),
    _cond_case("principal_account_derived", "StringEquals", "aws:PrincipalAccount", A, ALLOW),
    _cond_case(
        "numeric_less_than",
        "NumericLessThan",
        "s3:max-keys",
        "100",
        ALLOW,
        ctx={"s3:max-keys": "10"},
    ),
    _cond_case(
        "numeric_greater_than_fails",
        "NumericGreaterThanEquals",
        "s3:max-keys",
        "100",
        IMPLICIT,
        ctx={"s3:max-keys": "10"},
    ),
    _cond_case(
        "numeric_not_a_number",
        "NumericEquals",
        "s3:max-keys",
        "10",
        IMPLICIT,
        ctx={"s3:max-keys": "ten"},
    ),
    _cond_case(
        "date_less_than",
        "DateLessThan",
        "aws:CurrentTime",
        "2030-01-01T00:00:00Z",
        ALLOW,
        ctx={"aws:CurrentTime": "2026-05-01T12:00:00Z"},
    ),
    _cond_case(
        "date_greater_than_expired",
        "DateGreaterThan",
        "aws:CurrentTime",
        "2030-01-01T00:00:00Z",
        IMPLICIT,
        ctx={"aws:CurrentTime": "2026-05-01T12:00:00Z"},
    ),
    _cond_case(
        "ip_address_in_range",
        "IpAddress",
        "aws:SourceIp",
        ["10.0.0.0/8"],
        ALLOW,
        ctx={"aws:SourceIp": "10.1.2.3"},
    ),
    _cond_case(
        "not_ip_address_in_range",
        "NotIpAddress",
        "aws:SourceIp",
        "10.0.0.0/8",
        IMPLICIT,
        ctx={"aws:SourceIp": "10.1.2.3"},
    ),
    _cond_case(
        "source_vpce_matches",
        "StringEquals",
        "aws:SourceVpce",
        "vpce-0a1b",
        ALLOW,
        ctx={"aws:SourceVpce": "vpce-0a1b"},
    ),
    _cond_case(
        "null_true_absent",
        "Null",
        "aws:TokenIssueTime",
        "true",
        ALLOW,
        ctx={"aws:TokenIssueTime": []},
    ),
    _cond_case(
        "null_false_present",
        "Null",
        "aws:TokenIssueTime",
        "false",
        ALLOW,
        ctx={"aws:TokenIssueTime": "2026-01-01T00:00:00Z"},
    ),
    _cond_case("null_unknown_is_conditional", "Null", "aws:TokenIssueTime", "true", CONDITIONAL),
    _cond_case(
        "if_exists_absent_is_true",
        "StringEqualsIfExists",
        "aws:SourceVpce",
        "vpce-1",
        ALLOW,
        ctx={"aws:SourceVpce": []},
    ),
    _cond_case(
        "if_exists_present_must_match",
        "StringEqualsIfExists",
        "aws:SourceVpce",
        "vpce-1",
        IMPLICIT,
        ctx={"aws:SourceVpce": "vpce-2"},
    ),
    _cond_case(
        "for_any_value_one_matches",
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["owner"],
        ALLOW,
        ctx={"aws:TagKeys": ["owner", "cost"]},
    ),
    _cond_case(
        "for_all_values_one_outside",
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["owner"],
        IMPLICIT,
        ctx={"aws:TagKeys": ["owner", "cost"]},
    ),
    _cond_case(
        "for_all_values_empty_is_true",
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["owner"],
        ALLOW,
        ctx={"aws:TagKeys": []},
    ),
    _cond_case(
        "for_any_value_empty_is_false",
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["owner"],
        IMPLICIT,
        ctx={"aws:TagKeys": []},
    ),
    _cond_case(
        "org_id_unknown_allow_is_conditional",
        "StringEquals",
        "aws:PrincipalOrgID",
        "o-gov",
        CONDITIONAL,
    ),
    Case(
        "condition_keys_are_anded",
        ids(
            st(
                Condition={
                    "StringEquals": {"aws:PrincipalOrgID": "o-gov", "aws:SourceVpce": "vpce-1"}
                }
            )
        ),
        req(ctx={"aws:PrincipalOrgID": "o-gov", "aws:SourceVpce": "vpce-9"}),
        IMPLICIT,
        f"{CONDITION}: multiple keys are ANDed",
    ),
    Case(
        "condition_operators_are_anded",
        ids(
            st(
                Condition={
                    "StringEquals": {"aws:PrincipalOrgID": "o-gov"},
                    "Bool": {"aws:SecureTransport": "true"},
                }
            )
        ),
        req(ctx={"aws:PrincipalOrgID": "o-gov", "aws:SecureTransport": True}),
        ALLOW,
        f"{CONDITION}: multiple operators are ANDed",
    ),
    Case(
        "condition_key_names_case_insensitive",
        ids(st(Condition={"StringEquals": {"AWS:PRINCIPALORGID": "o-gov"}})),
        req(ctx={"aws:PrincipalOrgId": "o-gov"}),
        ALLOW,
        f"{CONDITION}: key names are case-insensitive",
    ),
    Case(
        "known_false_key_beats_unknown_key",
        ids(
            st(
                Condition={
                    "StringEquals": {"aws:PrincipalOrgID": "o-gov", "aws:SourceVpce": "vpce-1"}
                }
            )
        ),
        req(ctx={"aws:SourceVpce": "vpce-9"}),
        IMPLICIT,
        f"{CONDITION}: one false key decides, the unknown one does not matter",
    ),
    Case(
        "policy_variable_unresolved_is_conditional",
        ids(st(resource="arn:aws-cn:s3:::data/${aws:username}/*")),
        req(resource="arn:aws-cn:s3:::data/alice/x"),
        CONDITIONAL,
        "IAM policy elements: variables and tags",
        pending=("${aws:username}",),
    ),
    Case(
        "policy_variable_resolved",
        ids(st(resource="arn:aws-cn:s3:::data/${aws:username}/*")),
        req(resource="arn:aws-cn:s3:::data/alice/x", ctx={"aws:username": "alice"}),
        ALLOW,
        "IAM policy elements: variables and tags",
    ),
    # --- how CONDITIONAL combines -------------------------------------------------------------
    Case(
        "unconditional_allow_beats_conditional_allow",
        PolicySet(
            identity=[doc(st(Condition={"StringEquals": {"aws:PrincipalOrgID": "o"}})), ID_GET]
        ),
        req(),
        ALLOW,
        f"{EVAL}: any Allow suffices (OR)",
    ),
    Case(
        "conditional_deny_over_allow_is_conditional",
        PolicySet(
            identity=[
                ID_GET,
                doc(
                    st(
                        "Deny",
                        Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}},
                        Sid="VpceOnly",
                    )
                ),
            ]
        ),
        req(),
        CONDITIONAL,
        f"{EVAL}: a deny that may apply leaves the allow open",
        reason="'VpceOnly'",
        pending=("aws:SourceVpce",),
    ),
    Case(
        "conditional_deny_without_allow_is_implicit",
        PolicySet(
            identity=[doc(st("Deny", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}))]
        ),
        req(),
        IMPLICIT,
        f"{EVAL}: without an allow the request is denied either way",
    ),
    Case(
        "explicit_deny_beats_conditional_allow",
        PolicySet(
            identity=[
                doc(st(Condition={"StringEquals": {"aws:PrincipalOrgID": "o"}})),
                doc(st("Deny")),
            ]
        ),
        req(),
        EXPLICIT,
        f"{EVAL}: explicit deny overrides",
    ),
    Case(
        "conditional_scp_and_conditional_identity",
        PolicySet(
            identity=[doc(st(Condition={"Bool": {"aws:SecureTransport": "true"}}))],
            scps=[
                [
                    doc(
                        st(
                            action="*",
                            resource="*",
                            Condition={"StringEquals": {"aws:RequestedRegion": "cn-north-1"}},
                        )
                    )
                ]
            ],
        ),
        req(),
        CONDITIONAL,
        f"{SCP}: gates AND, pending keys merge",
        pending=("aws:RequestedRegion", "aws:SecureTransport"),
    ),
    Case(
        "conditional_allow_but_scp_denies_implicitly",
        PolicySet(
            identity=[doc(st(Condition={"Bool": {"aws:SecureTransport": "true"}}))],
            scps=[[doc(st(action="ec2:*", resource="*"))]],
        ),
        req(),
        IMPLICIT,
        f"{SCP}: a NO gate decides over an open allow",
    ),
]
