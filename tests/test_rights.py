"""Rights that identity policies grant, evaluated offline: literal resources, no cloud."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import pytest

from auditor import pipeline, rights
from auditor.access import evaluate
from auditor.model import Edge, Kind, Relation, Resource
from auditor.rights import identity_rights
from auditor.store import Store
from tests.helpers import bucket, key

A = "111111111111"
B = "222222222222"
ROOT_A = f"arn:aws-cn:iam::{A}:root"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


READ_ALL = doc(allow("s3:GetObject"))


def principal(
    kind: Kind,
    name: str,
    account: str = A,
    inline: dict[str, Any] | None = None,
    **attrs: Any,
) -> Resource:
    uid = f"arn:aws-cn:iam::{account}:{kind.value}/{name}"
    base: dict[str, Any] = {
        "inline_policies": inline or {},
        "attached_policies": [],
        "permissions_boundary": None,
    }
    return Resource(
        uid, "aws", kind, f"iam:{kind.value}", name, account, "global", "aws-cn", attrs=base | attrs
    )


def role(name: str, account: str = A, **kwargs: Any) -> Resource:
    return principal(Kind.ROLE, name, account, **kwargs)


def user(name: str, account: str = A, **kwargs: Any) -> Resource:
    return principal(Kind.USER, name, account, **kwargs)


def group(name: str, inline: dict[str, Any] | None = None, **attrs: Any) -> Resource:
    uid = f"arn:aws-cn:iam::{A}:group/{name}"
    base = {"inline_policies": inline or {}, "attached_policies": []}
    return Resource(uid, "aws", Kind.GROUP, "iam:group", name, A, attrs=base | attrs)


def managed(name: str, document: Any) -> Resource:
    uid = f"arn:aws-cn:iam::{A}:policy/{name}"
    attrs = {"aws_managed": False, "document": document, "document_status": "read"}
    return Resource(uid, "aws", Kind.IAM_POLICY, "iam:policy", name, A, attrs=attrs)


def org_node(native_type: str, node_id: str, policies: list[str], **attrs: Any) -> Resource:
    kind = Kind.ACCOUNT if native_type == "organizations:account" else Kind.ORG_UNIT
    uid = f"arn:aws-cn:organizations::{A}:{native_type.split(':')[1]}/o-x/{node_id}"
    base = {"id": node_id, "policies": policies, "policies_status": "read"}
    return Resource(uid, "aws", kind, native_type, node_id, A, attrs=base | attrs)


def org_policy(name: str, document: dict[str, Any], kind: str = rights.SCP) -> Resource:
    uid = f"arn:aws-cn:organizations::{A}:policy/o-x/service_control_policy/p-{name}"
    attrs = {"type": kind, "document": document, "document_status": "read"}
    return Resource(uid, "aws", Kind.ORG_POLICY, "organizations:policy", name, A, attrs=attrs)


def organisation(ou_scp: dict[str, Any]) -> list[Resource]:
    """Root and account carry FullAWSAccess; the OU between them carries `ou_scp`."""
    full = org_policy("full", doc(allow("*")))
    ou = org_policy("ou", ou_scp)
    return [
        full,
        ou,
        org_node("organizations:root", "r-1", [full.uid], policy_types_enabled=[rights.SCP]),
        org_node("organizations:ou", "ou-1", [ou.uid], parent="r-1"),
        org_node("organizations:account", A, [full.uid], parent="ou-1", management=False),
    ]


def edges_of(*resources: Resource) -> list[Edge]:
    return list(identity_rights({r.uid: r for r in resources}))


def grants(edges: Iterable[Edge]) -> set[tuple[str, str, Relation]]:
    """(principal name, resource name, right) of each edge."""
    return {(_name(e.src), _name(e.dst), e.relation) for e in edges}


def _name(uid: str) -> str:
    return uid.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def test_inline_read_all_reaches_every_bucket_of_its_account_only():
    reader = role("reader", inline={"read-all": READ_ALL})
    edges = edges_of(reader, bucket("b1"), bucket("b2"), bucket("theirs", account=B))
    assert grants(edges) == {
        ("reader", "b1", Relation.CAN_READ),
        ("reader", "b2", Relation.CAN_READ),
    }
    evidence = next(e.evidence for e in edges if e.dst.endswith(":b1"))
    assert evidence == (
        "identity policy 'read-all', statement #0 allows s3:GetObject on arn:aws-cn:s3:::b1/* "
        "(evaluated: identity; SCPs not inventoried)"
    )
    assert all(e.conditions == {} for e in edges)


def test_managed_policy_attached_by_arn_grants_and_a_missing_one_is_named():
    policy = managed("ReadAll", quote(json.dumps(READ_ALL)))  # IAM's URL-encoded wire form
    missing = f"arn:aws-cn:iam::{A}:policy/Gone"
    reader = role("reader", attached_policies=[policy.uid, missing])
    (edge,) = edges_of(reader, policy, bucket("b1"))
    assert edge.relation is Relation.CAN_READ
    assert "identity policy 'ReadAll', statement #0 allows s3:GetObject" in edge.evidence
    assert f"attached policy {missing} not inventoried" in edge.evidence


def test_group_policies_reach_the_groups_users():
    writers = group("writers", inline={"put": doc(allow("s3:PutObject"))})
    alice = user("alice", groups=["writers"])
    bob = user("bob", groups=[])
    edges = edges_of(writers, alice, bob, bucket("b1"))
    assert grants(edges) == {("alice", "b1", Relation.CAN_WRITE)}
    assert "identity policy 'group writers: put'" in edges[0].evidence


def test_explicit_deny_in_the_bucket_policy_removes_the_right():
    deny = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    locked = bucket("locked", policy=json.dumps(deny), policy_status="read")
    reader = role("reader", inline={"read-all": READ_ALL})
    assert grants(edges_of(reader, locked, bucket("open"))) == {
        ("reader", "open", Relation.CAN_READ)
    }


def test_bucket_policy_naming_a_user_grants_without_any_identity_policy():
    named = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws-cn:iam::{A}:user/carol"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws-cn:s3:::shared/*",
        }
    )
    shared = bucket("shared", policy=named)
    (edge,) = edges_of(user("carol"), shared)
    assert edge.relation is Relation.CAN_READ
    assert "resource policy, statement #0 allows s3:GetObject" in edge.evidence
    assert "identity ∩ resource policy" in edge.evidence


@pytest.mark.parametrize(
    ("boundary", "expected"),
    [
        (doc(allow("ec2:*")), set()),
        (doc(allow("s3:*")), {("reader", "b1", Relation.CAN_READ)}),
    ],
)
def test_permissions_boundary_limits_identity_policies(boundary, expected):
    limit = managed("limit", boundary)
    reader = role("reader", inline={"read-all": READ_ALL}, permissions_boundary=limit.uid)
    edges = edges_of(reader, limit, bucket("b1"))
    assert grants(edges) == expected
    assert all("identity ∩ boundary" in e.evidence for e in edges)


@pytest.mark.parametrize(
    ("ou_scp", "expected"),
    [
        (doc(allow("*")), {("reader", "b1", Relation.CAN_READ)}),
        (doc(allow("*"), {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}), set()),
        (doc(allow("ec2:*")), set()),  # the OU level lacks an allow for s3
    ],
)
def test_scp_levels_of_the_account_limit_identity_policies(ou_scp, expected):
    reader = role("reader", inline={"read-all": READ_ALL})
    edges = edges_of(reader, bucket("b1"), *organisation(ou_scp))
    assert grants(edges) == expected
    for edge in edges:
        assert "(evaluated: identity ∩ 3 SCP levels)" in edge.evidence


def test_rcp_levels_limit_access_to_the_accounts_resources():
    everyone = {"Principal": "*", "Action": "*", "Resource": "*"}
    full = org_policy("rcp-full", doc({"Effect": "Allow", **everyone}), rights.RCP)
    no_s3 = doc({"Effect": "Deny", **everyone, "Action": "s3:GetObject"})
    deny = org_policy("rcp-no-s3", no_s3, rights.RCP)
    enabled = [rights.RCP]  # SCPs not enabled: only the RCP levels gate
    org = [
        full,
        deny,
        org_node("organizations:root", "r-1", [full.uid], policy_types_enabled=enabled),
        org_node("organizations:account", A, [deny.uid], parent="r-1", management=False),
    ]
    reader = role("reader", inline={"read-all": READ_ALL})
    assert edges_of(reader, bucket("b1"), *org) == []
    org[-1] = org_node("organizations:account", A, [full.uid], parent="r-1", management=False)
    (edge,) = edges_of(reader, bucket("b1"), *org)
    assert edge.evidence.endswith("(evaluated: identity ∩ 2 RCP levels)")


def test_scps_do_not_restrict_the_management_account():
    reader = role("reader", inline={"read-all": READ_ALL})
    org = organisation(doc(allow("ec2:*")))
    org[-1] = org_node("organizations:account", A, [org[0].uid], parent="ou-1", management=True)
    (edge,) = edges_of(reader, bucket("b1"), *org)
    assert "SCPs do not apply to the management account" in edge.evidence


def test_kms_key_needs_its_key_policy_to_delegate_to_the_account():
    decrypter = role("decrypter", inline={"use-keys": doc(allow("kms:Decrypt"))})
    admin_only = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws-cn:iam::{A}:role/key-admin"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    delegating = doc(
        {"Effect": "Allow", "Principal": {"AWS": ROOT_A}, "Action": "kms:*"} | {"Resource": "*"}
    )
    closed = key("closed", policy=json.dumps(admin_only))
    open_key = key("open", policy=json.dumps(delegating))
    edges = edges_of(decrypter, closed, open_key)
    assert grants(edges) == {("decrypter", "open", Relation.CAN_DECRYPT)}
    assert "key policy" in edges[0].evidence


def test_condition_on_an_unknown_key_gives_a_conditional_edge():
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    reader = role("reader", inline={"mfa-read": doc(allow("s3:GetObject", Condition=mfa))})
    (edge,) = edges_of(reader, bucket("b1"))
    assert edge.relation is Relation.CAN_READ
    assert edge.conditions == {"pending": ["aws:MultiFactorAuthPresent"]}
    assert "pending aws:MultiFactorAuthPresent" in edge.evidence


def test_malformed_documents_skip_their_principal_only(caplog):
    bad_json = role("bad-json", inline={"broken": "{not json"})
    bad_effect = role("bad-effect", inline={"permit": doc({**allow("s3:*"), "Effect": "Permit"})})
    bad_policy = bucket("b2", policy="[1, 2]")
    good = role("good", inline={"read-all": READ_ALL})
    with caplog.at_level(logging.WARNING, logger="auditor.rights"):
        edges = edges_of(bad_json, bad_effect, good, bucket("b1"), bad_policy)
    assert grants(edges) == {
        ("good", "b1", Relation.CAN_READ),
        ("good", "b2", Relation.CAN_READ),
    }
    b2 = next(e for e in edges if e.dst.endswith(":b2"))
    assert "resource policy malformed: not evaluated" in b2.evidence
    text = caplog.text
    assert "'broken'" in text
    assert "'permit'" in text
    assert "arn:aws-cn:s3:::b2" in text


def test_can_assume_a_role_whose_trust_policy_names_the_account_root():
    trust_root = doc({"Effect": "Allow", "Principal": {"AWS": ROOT_A}, "Action": "sts:AssumeRole"})
    trust_service = doc(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"}
    )
    ops = role("ops", trust_policy=trust_root)
    worker = role("worker", trust_policy=trust_service)
    may = doc(allow("sts:AssumeRole", "arn:aws-cn:iam::*:role/*"))
    dave = user("dave", inline={"assume": may})
    erin = user("erin", inline={"read-all": READ_ALL})
    edges = edges_of(ops, worker, dave, erin)
    assert grants(edges) == {("dave", "ops", Relation.CAN_ASSUME)}
    assert edges[0].evidence == (
        "identity policy 'assume', statement #0 and trust policy, statement #0 allow "
        f"sts:AssumeRole on {ops.uid} (evaluated: identity ∩ trust policy; SCPs not inventoried)"
    )


def test_prefilter_skips_pairs_no_allow_statement_could_grant(monkeypatch):
    calls: list[str] = []
    real = evaluate

    def counted(request, policies):
        calls.append(request.action)
        return real(request, policies)

    monkeypatch.setattr(rights, "evaluate", counted)
    lambda_only = role("fn", inline={"invoke": doc(allow("lambda:InvokeFunction"))})
    edges = edges_of(lambda_only, *(bucket(f"b{n}") for n in range(20)), key("k"))
    assert edges == []
    assert calls == ["sts:GetCallerIdentity"]  # only the validation of its documents


def test_graph_of_includes_identity_rights(tmp_path):
    store = Store(tmp_path / "audit.db")
    run_id = store.begin_run(tool_version="test", policy_path="p.yaml", policy_sha256="0")
    reader = role("reader", inline={"read-all": READ_ALL})
    store.add_records(run_id, [reader, bucket("b1")])
    store.finish_run(run_id, accounts=[A], regions=["cn-north-1"])
    graph = pipeline.graph_of(store, store.get_run(run_id))
    data = graph.get_edge_data(reader.uid, "arn:aws-cn:s3:::b1")
    relations = [d["relation"] for d in data.values()]
    assert relations == [Relation.CAN_READ]
    store.close()


def test_shortcuts_give_the_edges_and_evidence_of_full_evaluation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One evaluation for every target when no policy names a resource, and only the targets
    a Resource pattern names otherwise: the same edges as evaluating every pair."""
    resources = rights._synthetic(60, 300)
    # A role naming resources, and one with a boundary naming none, beside the synthetic mix.
    narrow = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws-cn:s3:::b1*"}
    for name, doc in (
        ("narrow", narrow),
        ("wide", {"Effect": "Allow", "Action": "*", "Resource": "*"}),
    ):
        uid = f"arn:aws-cn:iam::111111111111:role/{name}"
        role_attrs: dict[str, Any] = {"inline_policies": {"p": {"Statement": [doc]}}}
        resources[uid] = Resource(
            uid, "aws", Kind.ROLE, "iam:role", name, "111111111111", attrs=role_attrs
        )
    # Buckets whose policies name their own ARN and one role (decided once for all of them
    # by a role naming no resource, per target otherwise), and one naming "*".
    wide = "arn:aws-cn:iam::111111111111:role/wide"
    for n in range(40):
        uid = f"arn:aws-cn:s3:::shared-{n}"
        grant: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": wide}}
        shared = {"Statement": [grant | {"Action": "s3:GetObject", "Resource": f"{uid}/*"}]}
        attrs = {"policy": shared, "policy_status": "read"}
        resources[uid] = Resource(
            uid, "aws", Kind.OBJECT_STORE, "s3:bucket", f"shared-{n}", "111111111111", attrs=attrs
        )
    calls: Counter[str] = Counter()
    real = evaluate

    def counted(request: Any, policies: Any) -> Any:
        calls[request.principal_arn.rsplit("/", 1)[-1]] += 1
        return real(request, policies)

    monkeypatch.setattr(rights, "evaluate", counted)
    fast = sorted((e.src, e.dst, e.relation, e.evidence) for e in identity_rights(resources))
    fast_calls = calls.copy()
    calls.clear()
    monkeypatch.setattr(rights._Principal, "arn_blind", lambda self: False)
    monkeypatch.setattr(rights._TargetIndex, "reachable", lambda self, principal: self.targets)
    full = sorted((e.src, e.dst, e.relation, e.evidence) for e in identity_rights(resources))
    # Same edges, same evidence (each naming its own target's policy).
    assert fast == full
    assert any(src.endswith("role/narrow") for src, *_ in fast)
    # The role naming no resource: a few evaluations (per action and kind of policy), not
    # one per target; the role naming resources is evaluated per target either way.
    assert fast_calls["wide"] < 20 < 300 < calls["wide"]
    # The role naming buckets b1*: only those (and targets whose policy names principals).
    assert fast_calls["narrow"] * 2 < calls["narrow"], (fast_calls["narrow"], calls["narrow"])


def test_anyone_s_right_stays_on_the_public_node_not_on_every_principal() -> None:
    """A bucket policy granting "*" gives no role its own edge (the adapter's edge from
    "public:*" says it once); a policy naming the role does."""
    role_uid = "arn:aws-cn:iam::111111111111:role/plain"
    plain = Resource(
        role_uid, "aws", Kind.ROLE, "iam:role", "plain", "111111111111",
        attrs={"inline_policies": {}, "attached_policies": []},
    )  # fmt: skip
    found = {plain.uid: plain}
    for name, principal in (("open", "*"), ("named", {"AWS": role_uid})):
        uid = f"arn:aws-cn:s3:::{name}"
        statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject"}
        doc = {"Statement": [statement | {"Resource": f"{uid}/*"}]}
        found[uid] = Resource(
            uid, "aws", Kind.OBJECT_STORE, "s3:bucket", name, "111111111111",
            attrs={"policy": doc, "policy_status": "read"},
        )  # fmt: skip
    edges = {(e.src, e.dst.rsplit(":", 1)[-1], e.relation) for e in identity_rights(found)}
    assert edges == {(role_uid, "named", Relation.CAN_READ)}
