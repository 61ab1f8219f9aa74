"""Who may do what, over HTTP: every tenant route × every persona × {own, other tenant's, missing}.

Expected statuses are written from the contract's table. For every refused request the test also
checks that nothing in the database changed.
"""

import uuid
from dataclasses import dataclass

import pytest

from tests.factories import (
    create_invitation,
    create_organization,
    create_user,
    create_website,
    database_fingerprint,
    token_for,
    unique_email,
)

PERSONAS = (
    "anonymous",
    "unverified",
    "org_admin",
    "org_user",
    "website_admin",
    "website_user",
    "other_org_member",
    "other_website_member",
)


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    ids: dict[str, dict[str, str]]  # target -> placeholder -> id


async def build_world(session) -> World:
    users = {
        name: await create_user(session)
        for name in PERSONAS
        if name not in ("anonymous", "unverified")
    }
    unverified = await create_user(session, verified=False)
    bystander = await create_user(session)
    site_bystander = await create_user(session)
    org = await create_organization(
        session,
        members=[
            (users["org_admin"], "admin"),
            (users["org_user"], "user"),
            (bystander, "user"),
            (unverified, "admin"),
        ],
    )
    site = await create_website(
        session,
        org,
        members=[
            (users["website_admin"], "admin"),
            (users["website_user"], "user"),
            (site_bystander, "user"),
            (unverified, "admin"),
        ],
    )
    await create_website(session, org, members=[(users["other_website_member"], "user")])
    await create_organization(session, members=[(users["other_org_member"], "admin")])
    org_invitation = await create_invitation(session, org)
    site_invitation = await create_invitation(session, org, website=site)

    # Another tenant, where none of the personas is anything.
    stranger = await create_user(session)
    stranger_member = await create_user(session)
    other_org = await create_organization(
        session, members=[(stranger, "admin"), (stranger_member, "user")]
    )
    other_site = await create_website(session, other_org, members=[(stranger_member, "user")])
    other_org_invitation = await create_invitation(session, other_org)
    other_site_invitation = await create_invitation(session, other_org, website=other_site)

    headers = {name: await token_for(session, user) for name, user in users.items()}
    headers["unverified"] = await token_for(session, unverified)
    headers["anonymous"] = {}
    missing = str(uuid.uuid4())
    return World(
        headers=headers,
        ids={
            "own": {
                "org": str(org.id),
                "site": str(site.id),
                "member": str(bystander.id),
                "role_target": str(users["org_user"].id),
                "site_member": str(site_bystander.id),
                "site_role_target": str(users["website_user"].id),
                "org_invitation": str(org_invitation.id),
                "site_invitation": str(site_invitation.id),
            },
            "other": {
                "org": str(other_org.id),
                "site": str(other_site.id),
                "member": str(stranger_member.id),
                "role_target": str(stranger_member.id),
                "site_member": str(stranger_member.id),
                "site_role_target": str(stranger_member.id),
                "org_invitation": str(other_org_invitation.id),
                "site_invitation": str(other_site_invitation.id),
            },
            "missing": dict.fromkeys(
                (
                    "org",
                    "site",
                    "member",
                    "role_target",
                    "site_member",
                    "site_role_target",
                    "org_invitation",
                    "site_invitation",
                ),
                missing,
            ),
        },
    )


def body_for(kind: str) -> dict | None:
    return {
        "name": {"name": "Renamed"},
        "website": {"name": "New site", "url": f"https://{uuid.uuid4().hex[:8]}.example.net/"},
        "invite": {"email": unique_email("new"), "role": "user"},
        "role": {"role": "admin"},
        "none": None,
    }[kind]


# (method, path, body kind, expected for org_admin, org_user, website_admin, website_user)
ROUTES = [
    ("GET", "/organizations/{org}", "none", 200, 200, 404, 404),
    ("PUT", "/organizations/{org}", "name", 200, 200, 404, 404),
    ("PATCH", "/organizations/{org}", "name", 200, 200, 404, 404),
    ("DELETE", "/organizations/{org}", "none", 204, 403, 404, 404),
    ("GET", "/organizations/{org}/members", "none", 200, 200, 404, 404),
    ("PATCH", "/organizations/{org}/members/{role_target}", "role", 200, 403, 404, 404),
    ("DELETE", "/organizations/{org}/members/{member}", "none", 204, 403, 404, 404),
    ("POST", "/organizations/{org}/invitations", "invite", 201, 403, 404, 404),
    ("GET", "/organizations/{org}/invitations", "none", 200, 403, 404, 404),
    ("DELETE", "/organizations/{org}/invitations/{org_invitation}", "none", 204, 403, 404, 404),
    ("GET", "/organizations/{org}/websites", "none", 200, 200, 404, 404),
    ("POST", "/organizations/{org}/websites", "website", 201, 201, 404, 404),
    ("GET", "/organizations/{org}/permissions", "none", 200, 200, 404, 404),
    ("GET", "/organizations/{org}/audit-events", "none", 200, 403, 404, 404),
    ("GET", "/websites/{site}", "none", 200, 200, 200, 200),
    ("PUT", "/websites/{site}", "website", 200, 200, 200, 200),
    ("PATCH", "/websites/{site}", "name", 200, 200, 200, 200),
    ("DELETE", "/websites/{site}", "none", 204, 403, 204, 403),
    ("GET", "/websites/{site}/members", "none", 200, 200, 200, 200),
    ("PATCH", "/websites/{site}/members/{site_role_target}", "role", 200, 403, 200, 403),
    ("DELETE", "/websites/{site}/members/{site_member}", "none", 204, 403, 204, 403),
    ("POST", "/websites/{site}/invitations", "invite", 201, 403, 201, 403),
    ("GET", "/websites/{site}/invitations", "none", 200, 403, 200, 403),
    ("DELETE", "/websites/{site}/invitations/{site_invitation}", "none", 204, 403, 204, 403),
    ("GET", "/websites/{site}/permissions", "none", 200, 200, 200, 200),
]
ROLE_COLUMNS = ("org_admin", "org_user", "website_admin", "website_user")


def expected_status(route, persona: str, target: str) -> int:
    if persona == "anonymous":
        return 401
    if persona == "unverified":
        return 403
    if target != "own" or persona in ("other_org_member", "other_website_member"):
        return 404
    return route[3 + ROLE_COLUMNS.index(persona)]


CASES = [
    pytest.param(route, persona, target, id=f"{route[0]} {route[1]} {persona} {target}")
    for route in ROUTES
    for persona in PERSONAS
    for target in ("own", "other", "missing")
]


@pytest.mark.parametrize(("route", "persona", "target"), CASES)
async def test_matrix(client, session, route, persona, target):
    world = await build_world(session)
    method, template, body_kind = route[:3]
    path = "/api/v1" + template.format(**world.ids[target])
    expected = expected_status(route, persona, target)
    before = await database_fingerprint(session)
    response = await client.request(
        method, path, json=body_for(body_kind), headers=world.headers[persona]
    )
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        if persona == "unverified":
            assert response.json()["code"] == "email_not_verified"
        assert await database_fingerprint(session) == before


async def test_random_id_and_foreign_id_answer_identically(client, session):
    world = await build_world(session)
    headers = world.headers["org_admin"]
    for template in ("/organizations/{org}", "/websites/{site}", "/organizations/{org}/members"):
        foreign = await client.get(
            "/api/v1" + template.format(**world.ids["other"]), headers=headers
        )
        random = await client.get(
            "/api/v1" + template.format(**world.ids["missing"]), headers=headers
        )
        assert foreign.status_code == random.status_code == 404
        assert foreign.json() == random.json()
