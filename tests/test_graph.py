from __future__ import annotations

import doctest

import auditor.graph
from auditor.graph import build_graph, data_reaches, explain_path, who_can
from auditor.model import Kind, Relation
from tests.helpers import bucket, edge, key, role


def test_doctests_of_graph_module():
    result = doctest.testmod(auditor.graph)
    assert result.attempted >= 4
    assert result.failed == 0


def test_nodes_only_seen_on_edges_carry_what_their_uid_says():
    b = bucket("b")
    graph = build_graph(
        [b],
        [
            edge("account:999988887777", b, Relation.CAN_READ),
            edge("public:*", b, Relation.CAN_READ),
            edge(b, "arn:aws:kms:eu-central-1:333333333333:key/k", Relation.ENCRYPTED_BY),
            edge(b, "arn:aws-cn:s3:::elsewhere", Relation.REPLICATES_TO),
        ],
    )
    assert graph.nodes["account:999988887777"]["kind"] is Kind.ACCOUNT
    assert graph.nodes["account:999988887777"]["account"] == "999988887777"
    assert graph.nodes["public:*"]["kind"] is Kind.PUBLIC
    kms = graph.nodes["arn:aws:kms:eu-central-1:333333333333:key/k"]
    assert (kms["kind"], kms["jurisdiction"], kms["account"]) == (Kind.KEY, "DE", "333333333333")
    other = graph.nodes["arn:aws-cn:s3:::elsewhere"]
    assert other["jurisdiction"] is None  # a bucket ARN names no region
    assert graph.nodes[b.uid]["inventoried"] is True


def test_data_reaches_follows_only_data_flow_edges_and_handles_cycles():
    a, b, c = bucket("a"), bucket("b", "ap-east-1"), bucket("c", "eu-central-1")
    k = key("k")
    graph = build_graph(
        [a, b, c, k],
        [
            edge(a, b, Relation.REPLICATES_TO),
            edge(b, c, Relation.REPLICATES_TO),
            edge(c, a, Relation.REPLICATES_TO),  # a cycle must not loop forever
            edge(a, k, Relation.ENCRYPTED_BY),  # a key is not where data goes
            edge("account:1", a, Relation.CAN_READ),
        ],
    )
    reached = data_reaches(graph, a.uid)
    assert set(reached) == {b.uid, c.uid}
    assert [h.dst for h in reached[c.uid]] == [b.uid, c.uid]
    assert data_reaches(graph, "absent") == {}


def test_who_can_through_roles_and_groups_with_paths():
    b = bucket("b")
    reader, group = role("reader"), "arn:aws-cn:iam::111111111111:group/ops"
    user = "arn:aws-cn:iam::111111111111:user/alice"
    graph = build_graph(
        [b, reader],
        [
            edge(reader, b, Relation.CAN_READ),
            edge(group, reader, Relation.CAN_ASSUME),
            edge(user, group, Relation.MEMBER_OF),
            edge("account:2", b, Relation.CAN_WRITE),
        ],
    )
    grants = {g.principal: g for g in who_can(graph, b.uid, Relation.CAN_READ)}
    assert set(grants) == {reader.uid, group, user}
    assert [h.relation for h in grants[user].path] == [
        Relation.MEMBER_OF,
        Relation.CAN_ASSUME,
        Relation.CAN_READ,
    ]
    assert {g.principal for g in who_can(graph, b.uid, Relation.CAN_WRITE)} == {"account:2"}
    assert who_can(graph, "absent", Relation.CAN_READ) == []


def test_explain_path_names_region_and_country_and_evidence():
    a, c = bucket("a", "ap-east-1"), bucket("c", "eu-central-1")
    graph = build_graph([a, c], [edge(a, c, Relation.REPLICATES_TO)])
    (line,) = explain_path(graph, data_reaches(graph, a.uid)[c.uid])
    assert line.startswith(
        "arn:aws:s3:::a (ap-east-1, HK) —replicates_to→ arn:aws:s3:::c (eu-central-1, DE)"
    )
    assert "test: " in line


def test_account_nodes_carry_party_and_country_from_the_policy():
    from auditor.graph import annotate_parties
    from tests.helpers import policy

    b = bucket("b")
    graph = build_graph(
        [b],
        [
            edge("account:111111111111", b, Relation.CAN_ADMIN),
            edge("account:444444444444", b, Relation.CAN_READ),
            edge("account:999988887777", b, Relation.CAN_READ),
            edge(
                "federated:arn:aws-cn:iam::111111111111:saml-provider/gov-idp", b, Relation.CAN_READ
            ),
            edge(
                "federated:arn:aws-cn:iam::111111111111:saml-provider/other", b, Relation.CAN_READ
            ),
        ],
    )
    annotate_parties(graph, policy())
    idp = graph.nodes["federated:arn:aws-cn:iam::111111111111:saml-provider/gov-idp"]
    assert (idp["party"], idp["jurisdiction"]) == ("identity provider gov-idp", "CN")
    other = graph.nodes["federated:arn:aws-cn:iam::111111111111:saml-provider/other"]
    assert (other["party"], other["jurisdiction"]) == ("unknown identity provider", None)
    assert graph.nodes["account:111111111111"]["party"] == "测试局"
    assert graph.nodes["account:111111111111"]["jurisdiction"] == "CN"
    assert graph.nodes["account:444444444444"]["party"] == "某运维公司 (vendor)"
    assert graph.nodes["account:444444444444"]["jurisdiction"] == "CN"
    assert graph.nodes["account:999988887777"]["party"] == "unknown external"
    assert graph.nodes["account:999988887777"]["jurisdiction"] is None
    from auditor.graph import describe_node

    assert describe_node(graph, "account:999988887777") == (
        "account:999988887777 (unknown external, jurisdiction unknown)"
    )
