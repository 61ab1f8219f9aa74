"""Hostile organization and website names stored in the database never change a decision,
before or after a full policy reload from the database."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.authz.test_engine import ALLOWED
from tests.factories import create_user, token_for

API = "/api/v1"
HOSTILE = st.text(
    alphabet=st.sampled_from(list(",()*#\"'\\:; ") + ["é", "名", "😀", "a", "p", "g", "_"]),
    min_size=1,
    max_size=40,
).filter(lambda name: name.strip() != "")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(org_name=HOSTILE, site_name=HOSTILE)
async def test_hostile_names_change_no_permission(client, session, app, org_name, site_name):
    admin = await create_user(session)
    headers = await token_for(session, admin)
    created = await client.post(f"{API}/organizations", json={"name": org_name}, headers=headers)
    assert created.status_code == 201
    assert created.json()["name"] == org_name
    org_id = created.json()["id"]
    site = await client.post(
        f"{API}/organizations/{org_id}/websites",
        json={"name": site_name, "url": f"https://{admin.id.hex}.example.com"},
        headers=headers,
    )
    assert site.status_code == 201
    expected_site = sorted(
        p.value
        for p, roles in ALLOWED.items()
        if "org_admin" in roles and p.value.startswith("website") and p.value != "website:create"
    )
    for reload in (False, True):
        if reload:
            await app.state.policy.reload()
        org_perms = (
            await client.get(f"{API}/organizations/{org_id}/permissions", headers=headers)
        ).json()
        site_perms = (
            await client.get(f"{API}/websites/{site.json()['id']}/permissions", headers=headers)
        ).json()
        assert org_perms["role"] == "admin"
        assert "organization:delete" in org_perms["permissions"]
        assert sorted(site_perms["permissions"]) == expected_site
