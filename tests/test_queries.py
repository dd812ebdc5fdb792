from __future__ import annotations

import json

import networkx as nx
import pytest

from auditor.errors import UsageError
from auditor.graph import build_graph
from auditor.model import Coverage, Outcome, Relation
from auditor.queries import path_answer, reach_answer, resolve, who_can_answer
from auditor.store import Store
from tests.helpers import bucket, edge, key, role
from tests.test_cli import run_main

A = bucket("a-core", "cn-north-1", tags={"data-class": "核心"})
HK = bucket("hk-copy", "ap-east-1")
DE = bucket("de-copy", "eu-central-1")
K = key("k1")
READER = role("reader")
EDGES = [
    edge(A, HK, Relation.REPLICATES_TO),
    edge(HK, DE, Relation.REPLICATES_TO),
    edge(A, K, Relation.ENCRYPTED_BY),
    edge(READER, A, Relation.CAN_READ),
    edge("account:999988887777", READER, Relation.CAN_ASSUME),
    edge("account:999988887777", K, Relation.CAN_DECRYPT),
]


@pytest.fixture
def graph() -> nx.MultiDiGraph[str]:
    return build_graph([A, HK, DE, K, READER], EDGES)


def test_resolve_by_uid_name_or_suffix(graph):
    assert resolve(graph, A.uid) == A.uid
    assert resolve(graph, "a-core") == A.uid
    assert resolve(graph, "reader") == READER.uid
    with pytest.raises(UsageError, match="no resource"):
        resolve(graph, "nothing-here")


def test_who_can_follows_roles_and_keeps_evidence(graph):
    answers = who_can_answer(graph, A.uid, ["read"])
    assert [a.subject for a in answers] == ["account:999988887777", READER.uid]
    outsider = answers[0]
    assert [h.relation for h in outsider.path] == ["can_assume", "can_read"]
    assert all(h.evidence.startswith("test: ") for h in outsider.path)
    assert who_can_answer(graph, K.uid, ["decrypt"])[0].subject == "account:999988887777"
    assert who_can_answer(graph, A.uid, ["write"]) == []


def test_reach_lists_every_copy_with_its_country(graph):
    answers = {a.subject: a for a in reach_answer(graph, A.uid)}
    assert set(answers) == {HK.uid, DE.uid}
    assert answers[DE.uid].jurisdiction == "DE"
    assert len(answers[DE.uid].path) == 2
    assert K.uid not in answers  # a key protects data; it is not where data goes


def test_path_over_any_relation(graph):
    (answer,) = path_answer(graph, "account:999988887777", DE.uid)
    assert [h.relation for h in answer.path] == [
        "can_assume",
        "can_read",
        "replicates_to",
        "replicates_to",
    ]
    assert path_answer(graph, DE.uid, A.uid) == []


def test_cli_queries_and_exports(tmp_path, capsys):
    db = tmp_path / "audit.db"
    store = Store(db)
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(
        run, [A, HK, DE, K, READER, *EDGES, Coverage("aws", "1", "x", "s3", Outcome.OK)]
    )
    store.finish_run(run, accounts=["1"], regions=["cn-north-1"])
    store.close()

    code, out, _ = run_main(
        ["who-can", "a-core", "--db", str(db), "--right", "read", "--json"], capsys
    )
    assert code == 0
    assert {a["subject"] for a in json.loads(out)} == {"account:999988887777", READER.uid}

    code, out, _ = run_main(["reach", "a-core", "--db", str(db)], capsys)
    assert "arn:aws:s3:::de-copy [DE]" in out
    assert "—replicates_to→" in out

    code, out, _ = run_main(
        ["path", "account:999988887777", "de-copy", "--db", str(db), "--json"], capsys
    )
    assert len(json.loads(out)[0]["path"]) == 4

    code, _, err = run_main(["who-can", "missing", "--db", str(db)], capsys)
    assert code == 2
    assert "no resource" in err

    graphml = tmp_path / "g.graphml"
    code, _, _ = run_main(
        ["graph", "export", "--db", str(db), "--format", "graphml", "--out", str(graphml)], capsys
    )
    loaded = nx.read_graphml(graphml, force_multigraph=True)
    assert loaded.number_of_edges() == len(EDGES)
    relations = {d["relation"] for _, _, d in loaded.edges(data=True)}
    assert "replicates_to" in relations
    assert loaded.nodes[DE.uid]["jurisdiction"] == "DE"

    code, out, _ = run_main(["graph", "export", "--db", str(db), "--format", "json"], capsys)
    data = json.loads(out)
    again = nx.node_link_graph(data, edges="edges")
    assert again.number_of_nodes() == loaded.number_of_nodes()
