"""Keystone: the audited project, its users and their role assignments, as the credentials allow.

The token itself names the auditor, its project and its roles (no call needed).  Listing every
project, user and role assignment needs an identity admin (or a domain/system reader): a
project member is refused, and then the coverage row says DENIED rather than pretending the
auditor's own view is the whole picture.

Model: a project is the `account:<project id>` node (as AWS accounts are), a user is
`openstack:global::user/<id>` whose `account` is its domain id, and a role assignment on the
project is a `member_of` edge user → project (the user acts within the project: whatever a
Swift ACL grants `PROJECT:*` reaches it).  Users carry Keystone's extra attributes as tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from libcloud.common.exceptions import BaseHTTPError
from libcloud.common.types import InvalidCredsError

from auditor.inventories.libcloud.common import Collected, Faults, outcome_of
from auditor.inventories.libcloud.openstack_session import PROVIDER, Session, user_uid
from auditor.model import Edge, Kind, Outcome, Record, Relation, Resource

READ = "read"
GLOBAL = "global"
USER_FIELDS = frozenset(
    {
        "id",
        "name",
        "domain_id",
        "enabled",
        "password_expires_at",
        "default_project_id",
        "links",
        "options",
        "federated",
        "description",
        "email",
    }
)


def _get(session: Session, path: str, params: Mapping[str, str] | None = None) -> Mapping[str, Any]:
    """A GET on Keystone with the session's token; 401 and 403 raise (libcloud lets 401 pass)."""
    try:
        response = session.identity.authenticated_request(path, params=dict(params or {}))
    except BaseHTTPError as exc:  # 403, 429...: libcloud raises these, but lets 401 through
        raise KeystoneError(int(exc.code), path) from None
    if response.status == 401:
        raise InvalidCredsError("Keystone refused the token")
    if response.status >= 400:
        raise KeystoneError(response.status, path)
    body = response.object
    if not isinstance(body, Mapping):
        raise ValueError(f"Keystone {path}: answer is not a JSON object")
    return body


class KeystoneError(Exception):
    """A refused or failed Keystone listing; `http_code` gives its coverage outcome."""

    def __init__(self, status: int, path: str) -> None:
        # Name the listing in words: the path's id-like runs would be scrubbed from details.
        listing = path.rstrip("/").rsplit("/", 1)[-1].replace("_", " ")
        super().__init__(f"Keystone refused to list {listing}")
        self.http_code = status


def _project(raw: Mapping[str, Any], own: bool, tags_status: str = READ) -> Resource:
    ident = str(raw["id"])
    domain = raw.get("domain_id") or (raw.get("domain") or {}).get("id")
    attrs: dict[str, Any] = {
        "project_id": ident,
        "domain_id": domain,
        "enabled": raw.get("enabled"),
        "parent_id": raw.get("parent_id"),
        "is_domain": raw.get("is_domain"),
        "tags_status": tags_status,
    }
    if not own:
        attrs["observed_only"] = True
    tags = {str(t): "" for t in raw.get("tags") or [] if isinstance(t, str)}
    return Resource(
        uid=f"account:{ident}",
        provider=PROVIDER,
        kind=Kind.ACCOUNT,
        native_type="keystone:project",
        name=str(raw.get("name") or ident),
        account=ident,
        region=GLOBAL,
        tags=tags,
        attrs=attrs,
    )


def _user(raw: Mapping[str, Any], tags_status: str = READ) -> Resource:
    domain = str(raw.get("domain_id") or (raw.get("domain") or {}).get("id") or "")
    raw_options = raw.get("options")
    options: Mapping[str, Any] = raw_options if isinstance(raw_options, Mapping) else {}
    attrs = {
        "user_id": str(raw["id"]),
        "domain_id": domain or None,
        "enabled": raw.get("enabled"),
        "password_expires_at": raw.get("password_expires_at"),
        "default_project_id": raw.get("default_project_id"),
        "mfa_enabled": options.get("multi_factor_auth_enabled"),
        "federated": bool(raw.get("federated")),
        "tags_status": tags_status,
    }
    # Keystone keeps any extra attribute given at creation (openstack user create --property).
    tags = {str(k): str(v) for k, v in raw.items() if k not in USER_FIELDS and isinstance(v, str)}
    return Resource(
        uid=user_uid(str(raw["id"])),
        provider=PROVIDER,
        kind=Kind.USER,
        native_type="keystone:user",
        name=str(raw.get("name") or raw["id"]),
        account=domain or None,
        region=GLOBAL,
        tags=tags,
        attrs=attrs,
    )


def _membership(user: str, name: str, project: str, roles: Iterable[str], how: str) -> Edge:
    listed = ", ".join(sorted(set(roles)))
    evidence = f"Keystone {how}: {name} holds {listed} on project {project}"
    return Edge(user_uid(user), f"account:{project}", Relation.MEMBER_OF, evidence, {})


def _own(
    session: Session, path: str, key: str, known: Mapping[str, Any]
) -> tuple[Mapping[str, Any], str]:
    """The auditor's own project or user in full (members may read their own) and the status
    of its tags; else what the token said, tags unread (a token carries none)."""
    try:
        body = _get(session, path)[key]
    except Exception as exc:  # the token still names it; only its tags stay unknown
        return known, "denied" if outcome_of(exc) is Outcome.DENIED else "error"
    return (body, READ) if isinstance(body, Mapping) else (known, "invalid")


def own_identity(session: Session) -> Collected:
    """The audited project and the auditor: named by the token, read in full where allowed."""
    domain = session.user.get("domain") or {}
    user_id = str(session.user.get("id", "unknown"))
    token_project = {
        "id": session.project_id,
        "name": session.project_name,
        "domain_id": session.project_domain,
    }
    token_user = {
        "id": user_id,
        "name": session.user.get("name"),
        "domain_id": domain.get("id"),
        "password_expires_at": session.user.get("password_expires_at"),
    }
    project, project_tags = _own(
        session, f"/v3/projects/{session.project_id}", "project", token_project
    )
    user, user_tags = _own(session, f"/v3/users/{user_id}", "user", token_user)
    records: list[Record] = [_project(project, True, project_tags), _user(user, user_tags)]
    name = str(user.get("name") or user_id)
    records.append(_membership(user_id, name, session.project_id, session.roles, "token"))
    regions = session.catalog_regions()
    roles = ", ".join(sorted(session.roles))
    return records, f"project {session.project_name}, roles {roles}; {len(regions)} regions"


def read_projects(session: Session, faults: Faults) -> Collected:
    """Every project (admin), else the projects the auditor may scope to, noted as denied."""
    try:
        projects = _get(session, "/v3/projects")["projects"]
        scope = "all"
    except KeystoneError as exc:
        if exc.http_code != 403:
            raise
        faults.note("GET /v3/projects", "403", Outcome.DENIED)
        projects = _get(session, "/v3/auth/projects")["projects"]
        scope = "the auditor's own"
    records: list[Record] = [
        _project(p, own=False) for p in projects if p.get("id") != session.project_id
    ]
    return records, f"{len(records)} other projects ({scope} listed)"


def read_users(session: Session) -> Collected:
    users = _get(session, "/v3/users")["users"]
    mine = session.user.get("id")
    records: list[Record] = [_user(u) for u in users if u.get("id") != mine]
    return records, f"{len(users)} users"


def read_role_assignments(session: Session) -> Collected:
    """Effective assignments on the audited project (groups and inheritance expanded)."""
    params = {"scope.project.id": session.project_id, "effective": "true", "include_names": "true"}
    body = _get(session, "/v3/role_assignments", params)
    roles: dict[tuple[str, str], list[str]] = {}
    for item in body.get("role_assignments", []):
        user = item.get("user") or {}
        if user.get("id"):
            key = (str(user["id"]), str(user.get("name") or user["id"]))
            roles.setdefault(key, []).append(str((item.get("role") or {}).get("name") or "?"))
    records: list[Record] = [
        _membership(user, name, session.project_id, names, "role assignment")
        for (user, name), names in sorted(roles.items())
    ]
    return records, f"{len(records)} users with roles on the project"
