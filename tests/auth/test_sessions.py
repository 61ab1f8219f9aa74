"""The caller's own logins: GET and DELETE /users/me/sessions."""

import uuid

from tests.factories import PASSWORD, create_user


async def log_in(client, email, agent="pytest-agent/1.0"):
    answer = await client.post(
        "/api/v1/auth/login",
        data={"username": email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    return tokens, {"Authorization": f"Bearer {tokens['access_token']}"}


class TestListingLogins:
    async def test_lists_live_logins_newest_first_and_marks_the_current_one(self, client, session):
        user = await create_user(session)
        _, first = await log_in(client, user.email, agent="laptop")
        _, second = await log_in(client, user.email, agent="phone")
        answer = await client.get("/api/v1/users/me/sessions", headers=first)
        assert answer.status_code == 200
        items = answer.json()["items"]
        assert [i["user_agent"] for i in items] == ["phone", "laptop"]
        assert [i["current"] for i in items] == [False, True]
        assert set(items[0]) == {"id", "created_at", "last_used_at", "user_agent", "current"}
        assert answer.json()["next_cursor"] is None

    async def test_a_logged_out_login_is_not_listed(self, client, session):
        user = await create_user(session)
        tokens, headers = await log_in(client, user.email)
        other, _ = await log_in(client, user.email, agent="other")
        out = await client.post(
            "/api/v1/auth/logout", json={"refresh_token": other["refresh_token"]}
        )
        assert out.status_code == 204
        items = (await client.get("/api/v1/users/me/sessions", headers=headers)).json()["items"]
        assert len(items) == 1
        assert items[0]["current"] is True

    async def test_a_refresh_moves_last_used_at(self, client, session):
        user = await create_user(session)
        tokens, headers = await log_in(client, user.email)
        before = (await client.get("/api/v1/users/me/sessions", headers=headers)).json()
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        after = (await client.get("/api/v1/users/me/sessions", headers=headers)).json()
        assert after["items"][0]["id"] == before["items"][0]["id"]
        assert after["items"][0]["last_used_at"] > before["items"][0]["last_used_at"]

    async def test_pages_follow_the_cursor(self, client, session):
        user = await create_user(session)
        headers = None
        for n in range(3):
            _, headers = await log_in(client, user.email, agent=f"agent-{n}")
        first = (await client.get("/api/v1/users/me/sessions?limit=2", headers=headers)).json()
        assert [i["user_agent"] for i in first["items"]] == ["agent-2", "agent-1"]
        rest = (
            await client.get(
                f"/api/v1/users/me/sessions?limit=2&cursor={first['next_cursor']}",
                headers=headers,
            )
        ).json()
        assert [i["user_agent"] for i in rest["items"]] == ["agent-0"]
        assert rest["next_cursor"] is None

    async def test_needs_a_token(self, client):
        assert (await client.get("/api/v1/users/me/sessions")).status_code == 401


class TestEndingALogin:
    async def test_ends_that_logins_access_and_refresh_tokens(self, client, session):
        user = await create_user(session)
        _, mine = await log_in(client, user.email)
        other_tokens, other = await log_in(client, user.email, agent="stolen")
        items = (await client.get("/api/v1/users/me/sessions", headers=mine)).json()["items"]
        target = next(i["id"] for i in items if not i["current"])
        answer = await client.delete(f"/api/v1/users/me/sessions/{target}", headers=mine)
        assert answer.status_code == 204
        assert (await client.get("/api/v1/users/me", headers=other)).status_code == 401
        refused = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": other_tokens["refresh_token"]}
        )
        assert refused.status_code == 401
        assert (await client.get("/api/v1/users/me", headers=mine)).status_code == 200

    async def test_another_users_login_is_404_and_keeps_working(self, client, session):
        alice = await create_user(session)
        bob = await create_user(session)
        _, alice_headers = await log_in(client, alice.email)
        _, bob_headers = await log_in(client, bob.email)
        bobs = (await client.get("/api/v1/users/me/sessions", headers=bob_headers)).json()
        answer = await client.delete(
            f"/api/v1/users/me/sessions/{bobs['items'][0]['id']}", headers=alice_headers
        )
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
        assert (await client.get("/api/v1/users/me", headers=bob_headers)).status_code == 200

    async def test_an_unknown_or_ended_login_is_404(self, client, session):
        user = await create_user(session)
        _, headers = await log_in(client, user.email)
        unknown = await client.delete(f"/api/v1/users/me/sessions/{uuid.uuid4()}", headers=headers)
        assert unknown.status_code == 404
        _, second = await log_in(client, user.email, agent="second")
        items = (await client.get("/api/v1/users/me/sessions", headers=headers)).json()["items"]
        target = next(i["id"] for i in items if not i["current"])
        assert (
            await client.delete(f"/api/v1/users/me/sessions/{target}", headers=headers)
        ).status_code == 204
        again = await client.delete(f"/api/v1/users/me/sessions/{target}", headers=headers)
        assert again.status_code == 404

    async def test_ending_the_current_login_logs_out(self, client, session):
        user = await create_user(session)
        _, headers = await log_in(client, user.email)
        items = (await client.get("/api/v1/users/me/sessions", headers=headers)).json()["items"]
        answer = await client.delete(f"/api/v1/users/me/sessions/{items[0]['id']}", headers=headers)
        assert answer.status_code == 204
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401

    async def test_a_malformed_id_is_422(self, client, session):
        user = await create_user(session)
        _, headers = await log_in(client, user.email)
        answer = await client.delete("/api/v1/users/me/sessions/not-a-uuid", headers=headers)
        assert answer.status_code == 422
