"""The name rule shared by organizations, websites and users: 1 to 100 characters once
trimmed, no control characters, stored and returned exactly as sent."""

import json
import re
import shutil
import subprocess
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from app.types import NAME_MAX_RAW_LENGTH, SCANNED_PLANES, Name, name_pattern
from tests.factories import create_organization, create_website, logged_in_user

API = "/api/v1"
NAME = TypeAdapter(Name)
ACCEPTED = [
    "a",
    "a" * 100,
    "  Blue Sky  ",
    " " * 500 + "x" * 100 + "\u3000" * 3,  # trimmed length 100: the surroundings do not count
    "Zoë, (Ltd) #1 * 名前 😀",
    " " * 900 + "x" * 100,  # 1000 characters in all
    "\U0001f469\u200d\U0001f4bb",  # woman technologist: a joiner between two emoji
    "Team \U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: emoji, selector, joiner, emoji
    "\U0001f469\U0001f3fd\u200d\U0001f52c lab",  # a skin tone before the joiner
    "e\u0301",  # a combining mark on a visible letter
    "\u3164x",  # a blank letter beside a visible one
]
REFUSED = [
    "",
    "   ",
    "\u3000\u00a0",
    "a" * 101,
    " " + "a" * 101 + " ",
    "a\tb",
    "\tleading tab",
    "trailing newline\n",
    "unit\x1fseparator",
    "next\x85line",
    "line\u2028separator",
    "nul\x00",
    " " * 901 + "x" * 100,  # over 1000 characters with the whitespace
    "right\u202eto-left",  # a bidirectional override
    "isolate\u2066d\u2069",
    "zero\u200bwidth",  # format characters that draw nothing
    "\ufeff",
    "\ufeffBOM",
    "soft\u00adhyphen",
    "a\u200db",  # a joiner between letters
    "\U0001f469\u200d",  # a joiner with nothing to join
    "\u200d\U0001f4bb",
    "tag\U000e0041\U000e0042",  # tag characters
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "\u3164",  # a Hangul filler: a letter that draws nothing
    "\u3164 \u115f",
    "\u2800",  # the blank Braille pattern
    "\u0301\u0301",  # combining marks with nothing to combine with
]


def published_rule(text: str) -> bool:
    """What the OpenAPI document says: the pattern and the overall maxLength."""
    return len(text) <= NAME_MAX_RAW_LENGTH and re.fullmatch(name_pattern(), text) is not None


def test_the_published_rule_is_the_rule():
    for text in ACCEPTED:
        assert published_rule(text), text
        assert NAME.validate_python(text) == text
    for text in REFUSED:
        assert not published_rule(text), text
        with pytest.raises(ValidationError):
            NAME.validate_python(text)


@given(
    st.one_of(
        st.text(max_size=130),
        # Around the limits: padding of any whitespace around 95 to 105 other characters.
        st.builds(
            "{}{}{}".format,
            st.text(st.sampled_from(" \u00a0\u3000\t\u2028\ufeff"), max_size=460),
            st.text(st.characters(exclude_categories=["Cs"]), min_size=95, max_size=105),
            st.text(st.sampled_from(" \u2003\u202f"), max_size=460),
        ),
    )
)
def test_published_rule_and_validator_agree_on_any_text(text):
    check_agreement(text)


@given(
    st.text(
        st.sampled_from(
            ["a", " ", "\u200d", "\u200b", "\ufe0f", "\U0001f469", "\U0001f3fd", "\u2764", "\u3164"]
            + ["\U000e0041", "\u0301", "\u00a0"]
        ),
        max_size=12,
    )
)
def test_published_rule_and_validator_agree_around_emoji_and_invisible_characters(text):
    check_agreement(text)


def check_agreement(text):
    try:
        NAME.validate_python(text)
        valid = True
    except ValidationError:
        valid = False
    assert valid == published_rule(text)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_an_ecmascript_engine_reads_the_pattern_the_same_way():
    # JSON Schema patterns are ECMAScript regular expressions (Unicode mode): Node.js runs them.
    samples = [*ACCEPTED, *REFUSED, "😀" * 100, "😀" * 101, "\ufeff" + "a" * 100, "a\u00a0"]
    script = (
        "const re = new RegExp(process.argv[1], 'u');"
        "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(texts.map((t) => re.test(t))));"
    )
    node = subprocess.run(
        ["node", "-e", script, name_pattern()],
        input=json.dumps(samples),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for text, matched in zip(samples, json.loads(node.stdout), strict=True):
        assert (matched and len(text) <= NAME_MAX_RAW_LENGTH) == published_rule(text), text


def test_every_character_outside_the_scanned_planes_is_unassigned_or_private():
    # The published pattern only describes the scanned planes; any character beyond them must
    # be neither forbidden, nor a space, nor invisible, nor an emoji.
    scanned = set(SCANNED_PLANES)
    for code in range(0x110000):
        if code in scanned or 0xD800 <= code <= 0xDFFF:
            continue
        assert unicodedata.category(chr(code)) in {"Cn", "Co"}, hex(code)


class TestOverHttp:
    @pytest.mark.parametrize("name", ACCEPTED)
    async def test_organization_name_round_trips_exactly(self, client, session, name):
        caller = await logged_in_user(session, client)
        created = await client.post(
            f"{API}/organizations", json={"name": name}, headers=caller.headers
        )
        assert created.status_code == 201, created.text
        assert created.json()["name"] == name
        read = await client.get(created.headers["location"], headers=caller.headers)
        assert read.json()["name"] == name

    @pytest.mark.parametrize("name", REFUSED)
    async def test_refused_names_are_422_for_every_kind_of_name(self, client, session, name):
        caller = await logged_in_user(session, client)
        org = await create_organization(session, members=[(caller.user, "admin")])
        website = await create_website(session, org)
        for method, path, body in (
            ("POST", f"{API}/organizations", {"name": name}),
            ("PATCH", f"{API}/organizations/{org.id}", {"name": name}),
            ("PATCH", f"{API}/websites/{website.id}", {"name": name}),
            ("PATCH", f"{API}/users/me", {"full_name": name}),
        ):
            response = await client.request(method, path, json=body, headers=caller.headers)
            assert response.status_code == 422, (path, name)
            assert response.json()["code"] == "validation_error"
        assert (await client.get(f"{API}/organizations/{org.id}", headers=caller.headers)).json()[
            "name"
        ] == org.name


class TestPatchNull:
    async def test_null_is_refused_where_a_field_cannot_be_emptied(self, client, session):
        caller = await logged_in_user(session, client)
        org = await create_organization(session, members=[(caller.user, "admin")])
        website = await create_website(session, org)
        for path, body in (
            (f"{API}/organizations/{org.id}", {"name": None}),
            (f"{API}/websites/{website.id}", {"name": None}),
            (f"{API}/websites/{website.id}", {"url": None}),
            (f"{API}/websites/{website.id}", {"name": "kept?", "url": None}),
        ):
            response = await client.patch(path, json=body, headers=caller.headers)
            assert response.status_code == 422, (path, body)
            assert response.json()["errors"][0]["loc"][-1] in body
        site = (await client.get(f"{API}/websites/{website.id}", headers=caller.headers)).json()
        assert (site["name"], site["url"]) == (website.name, website.url)

    async def test_openapi_shows_patch_fields_as_not_nullable(self, client):
        schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
        for model, fields in (
            ("OrganizationPatch", ["name"]),
            ("WebsitePatch", ["name", "url"]),
        ):
            for field in fields:
                schema = schemas[model]["properties"][field]
                assert "anyOf" not in schema, (model, schema)
                assert schema["type"] == "string", (model, schema)
        assert schemas["OrganizationPatch"]["properties"]["name"]["pattern"] == name_pattern()
