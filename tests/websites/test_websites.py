"""Website behaviour: URLs and hosts, lists that match details, cascades, members."""

import pytest

from app.invitations.models import Invitation
from app.memberships.models import WebsiteMembership
from app.websites.models import Website
from app.websites.schemas import website_host
from tests.factories import (
    create_invitation,
    create_organization,
    create_user,
    create_website,
    row_count,
    token_for,
)

API = "/api/v1"


class TestUrls:
    @pytest.mark.parametrize(
        ("url", "host"),
        [
            ("https://Example.COM/path?q=1", "example.com"),
            ("http://bücher.de", "xn--bcher-kva.de"),
            ("https://example.com:8443/", "example.com"),
            ("http://127.0.0.1:8000/", "127.0.0.1"),
            ("https://example.com./", "example.com"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://[::FFFF:1.2.3.4]/", "::ffff:102:304"),
            ("https://example.com:/", "example.com"),
            # Full-width and ideographic dots and letters map as browsers map them (UTS 46).
            ("https://dup.example。/", "dup.example"),
            ("https://ＥＸＡＭＰＬＥ．com/", "example.com"),
            ("http://127。0。0。1/", "127.0.0.1"),
        ],
    )
    def test_host_is_normalized(self, url, host):
        assert website_host(url) == host

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://example.com",
            "example.com",
            "https://",
            "javascript:alert(1)",
            "https://exa mple.com",
            "http://a\nb.com",
            "https://example.com:99999/",
            "https://" + "a" * 2050 + ".com",
            # Read differently by browsers and URL parsers, or not URLs at all.
            "http://bs.example.com\\@evil.example.com/",
            "http://example.com\\path",
            "http://[::1]x/",
            "http://[v1.fe]/",
            "http://x[::1]/",
            "http://a:1:2/",
            "http://example.com../",
            "http://.example.com/",
            "http://a..b.example/",
            # Credentials in the URL.
            "https://user:pass@example.com/",
            "https://bank.example@evil.example/",
            # Numeric last labels that browsers read as IPv4 in other notations.
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://2130706433/",
            "http://127.1/",
            "http://1.2.3.0x4/",
            "http://0x7f。0。0。1/",
            "http://0177．0．0．1/",
            "http://2130706433。/",
            "http://example。。com/",
        ],
    )
    async def test_invalid_urls_are_422(self, client, session, url):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "admin")])
        response = await client.post(
            f"{API}/organizations/{org.id}/websites",
            json={"name": "S", "url": url},
            headers=await token_for(session, user),
        )
        assert response.status_code == 422

    async def test_same_host_twice_in_an_org_is_409(self, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "admin")])
        headers = await token_for(session, user)
        first = await client.post(
            f"{API}/organizations/{org.id}/websites",
            json={"name": "A", "url": "https://shop.example.com/"},
            headers=headers,
        )
        assert first.status_code == 201
        assert first.headers["location"] == f"/api/v1/websites/{first.json()['id']}"
        again = await client.post(
            f"{API}/organizations/{org.id}/websites",
            json={"name": "B", "url": "http://SHOP.example.com/other"},
            headers=headers,
        )
        assert again.status_code == 409
        assert await row_count(session, Website, Website.organization_id == org.id) == 1
        other_org = await create_organization(session, members=[(user, "admin")])
        elsewhere = await client.post(
            f"{API}/organizations/{other_org.id}/websites",
            json={"name": "B", "url": "https://shop.example.com/"},
            headers=headers,
        )
        assert elsewhere.status_code == 201

    async def test_update_to_a_taken_host_is_409(self, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "admin")])
        await create_website(session, org, url="https://taken.example.com/")
        site = await create_website(session, org)
        response = await client.patch(
            f"{API}/websites/{site.id}",
            json={"url": "https://TAKEN.example.com/x"},
            headers=await token_for(session, user),
        )
        assert response.status_code == 409

    async def test_put_needs_every_field_patch_does_not(self, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "user")])
        site = await create_website(session, org)
        headers = await token_for(session, user)
        assert (
            await client.put(f"{API}/websites/{site.id}", json={"name": "Only"}, headers=headers)
        ).status_code == 422
        patched = await client.patch(
            f"{API}/websites/{site.id}", json={"name": "Only"}, headers=headers
        )
        assert patched.status_code == 200
        assert patched.json()["url"] == site.url
        assert patched.json()["name"] == "Only"


class TestListsMatchDetails:
    @pytest.mark.parametrize(
        "persona", ["org_admin", "org_user", "website_admin", "website_user", "outsider"]
    )
    async def test_an_id_is_listed_exactly_when_its_detail_answers_200(
        self, client, session, persona
    ):
        caller = await create_user(session)
        org = await create_organization(session)
        other = await create_organization(session)
        roles = {"org_admin": "admin", "org_user": "user"}
        if persona in roles:
            org = await create_organization(session, members=[(caller, roles[persona])])
        sites = [await create_website(session, org) for _ in range(3)] + [
            await create_website(session, other)
        ]
        if persona.startswith("website_"):
            sites.append(
                await create_website(session, org, members=[(caller, persona.split("_")[1])])
            )
        headers = await token_for(session, caller)
        listed = {
            i["id"] for i in (await client.get(f"{API}/websites", headers=headers)).json()["items"]
        }
        readable = {
            str(s.id)
            for s in sites
            if (await client.get(f"{API}/websites/{s.id}", headers=headers)).status_code == 200
        }
        assert listed == readable
        org_list = await client.get(f"{API}/organizations/{org.id}/websites", headers=headers)
        if persona.startswith("org_"):
            assert {i["id"] for i in org_list.json()["items"]} == {
                str(s.id) for s in sites if s.organization_id == org.id
            }
        else:
            assert org_list.status_code == 404

    async def test_my_role_is_the_stronger_of_org_and_website_roles(self, client, session):
        caller = await create_user(session)
        org = await create_organization(session, members=[(caller, "user")])
        site = await create_website(session, org, members=[(caller, "admin")])
        headers = await token_for(session, caller)
        assert (await client.get(f"{API}/websites/{site.id}", headers=headers)).json()[
            "my_role"
        ] == "admin"
        listed = (await client.get(f"{API}/websites", headers=headers)).json()["items"]
        assert [i["my_role"] for i in listed if i["id"] == str(site.id)] == ["admin"]


class TestDeleteAndMembers:
    async def test_delete_cascades(self, client, session):
        admin = await create_user(session)
        member = await create_user(session)
        org = await create_organization(session)
        site = await create_website(session, org, members=[(admin, "admin"), (member, "user")])
        await create_invitation(session, org, website=site)
        assert (
            await client.delete(
                f"{API}/websites/{site.id}", headers=await token_for(session, admin)
            )
        ).status_code == 204
        assert await row_count(session, Website, Website.id == site.id) == 0
        assert (
            await row_count(session, WebsiteMembership, WebsiteMembership.website_id == site.id)
            == 0
        )
        assert await row_count(session, Invitation, Invitation.website_id == site.id) == 0

    async def test_website_member_can_leave_and_admin_can_change_roles(self, client, session):
        admin = await create_user(session)
        member = await create_user(session)
        org = await create_organization(session)
        site = await create_website(session, org, members=[(admin, "admin"), (member, "user")])
        admin_headers = await token_for(session, admin)
        promoted = await client.patch(
            f"{API}/websites/{site.id}/members/{member.id}",
            json={"role": "admin"},
            headers=admin_headers,
        )
        assert promoted.json()["role"] == "admin"
        members = (
            await client.get(f"{API}/websites/{site.id}/members", headers=admin_headers)
        ).json()["items"]
        assert {m["user"]["id"] for m in members} == {str(admin.id), str(member.id)}
        # Websites need no website admin: the last one may leave.
        member_headers = await token_for(session, member)
        assert (
            await client.delete(
                f"{API}/websites/{site.id}/members/{member.id}", headers=member_headers
            )
        ).status_code == 204
        assert (
            await client.delete(
                f"{API}/websites/{site.id}/members/{admin.id}", headers=admin_headers
            )
        ).status_code == 204
        assert (
            await client.get(f"{API}/websites/{site.id}", headers=admin_headers)
        ).status_code == 404

    async def test_permissions_of_a_website_user(self, client, session):
        user = await create_user(session)
        org = await create_organization(session)
        site = await create_website(session, org, members=[(user, "user")])
        body = (
            await client.get(
                f"{API}/websites/{site.id}/permissions", headers=await token_for(session, user)
            )
        ).json()
        assert body["role"] == "user"
        assert set(body["permissions"]) == {
            "website:read",
            "website:update",
            "website:leave",
            "website_member:read",
        }


class TestHostEdgeCases:
    @pytest.mark.parametrize(
        "url",
        [
            "http://" + "1." * 127 + "11/",
            "http://１２３/",
            "http://[fe80::1%25" + "a" * 300 + "]/",
            "http://256.1.1.1/",
        ],
    )
    def test_hosts_that_cannot_be_stored_or_compared_are_refused(self, url):
        with pytest.raises(ValueError):  # noqa: PT011 - any validation message
            website_host(url)

    async def test_equal_ipv6_spellings_are_one_host(self, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "admin")])
        headers = await token_for(session, user)
        path = f"{API}/organizations/{org.id}/websites"
        assert (
            await client.post(path, json={"name": "A", "url": "http://[::1]/"}, headers=headers)
        ).status_code == 201
        again = await client.post(
            path, json={"name": "B", "url": "http://[0:0::1]:8080/"}, headers=headers
        )
        assert again.status_code == 409


class TestEveryReadableWebsiteAcrossBothPasses:
    """`GET /websites` takes its page from a walk over every website in creation order, or
    from each readable organization's own order when the walk's window holds too few. Every
    window and page size must give the same list, in the same order."""

    async def test_pages_match_the_readable_websites_in_order(self, session):
        from app.auth.models import LoginSession
        from app.websites.repository import caller_and_readable_websites
        from tests.conftest import SessionBoundDatabase
        from tests.factories import create_organization, create_user, create_website

        reader = await create_user(session)
        stranger = await create_user(session)
        own = await create_organization(session, members=[(reader, "user")])
        other = await create_organization(session, members=[(stranger, "admin")])
        readable = []
        for n in range(12):
            # Interleaved: two unreadable websites for each readable one.
            readable.append((await create_website(session, own)).id)
            await create_website(session, other)
            site = await create_website(session, other)
            if n % 4 == 0:
                # A website role outside the caller's organizations...
                await _grant(session, site.id, reader.id)
                readable.append(site.id)
        # ... and one inside, which must not appear twice.
        await _grant(session, readable[0], reader.id)
        login = LoginSession(user_id=reader.id)
        session.add(login)
        await session.commit()
        expected = await _in_creation_order(session, readable)

        database = SessionBoundDatabase(None, None, session)
        for window in (1, 3, 1000):
            for limit in (1, 2, 5, 50):
                seen = []
                after = None
                while True:
                    account, rows = await caller_and_readable_websites(
                        database,
                        reader.id,
                        login.id,
                        org_roles=["admin", "user"],
                        website_roles=["admin", "user"],
                        limit=limit,
                        after=after,
                        window=window,
                    )
                    assert account is not None
                    seen += [row.id for row in rows]
                    if len(rows) < limit:
                        break
                    after = (rows[-1].created_at, rows[-1].id)
                assert seen == expected, (window, limit)


async def _grant(session, website_id, user_id):
    from app.memberships.models import WebsiteMembership

    session.add(WebsiteMembership(website_id=website_id, user_id=user_id, role="user"))
    await session.commit()


async def _in_creation_order(session, ids):
    import sqlalchemy as sa

    rows = await session.execute(
        sa.text("SELECT id FROM websites WHERE id = ANY(:ids) ORDER BY created_at, id"),
        {"ids": list(set(ids))},
    )
    return [row[0] for row in rows]


async def test_the_detail_shows_the_stored_website(client, session):
    caller = await create_user(session)
    org = await create_organization(session, members=[(caller, "user")])
    site = await create_website(session, org, url="https://detail.example.org/")
    body = (
        await client.get(f"{API}/websites/{site.id}", headers=await token_for(session, caller))
    ).json()
    assert body["id"] == str(site.id)
    assert body["organization_id"] == str(org.id)
    assert (body["name"], body["url"]) == (site.name, site.url)
    assert body["created_at"].startswith(site.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["my_role"] == "user"
