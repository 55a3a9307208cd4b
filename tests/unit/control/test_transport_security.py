"""HSTS on HTTPS responses only (issue #14, finding 7)."""

from tests.unit.control.conftest import Platform


async def test_https_responses_carry_hsts(platform: Platform) -> None:
    for path in ("/public_api/v1/projects", "/console/login", "/public_api/v1/openapi.json"):
        response = await platform.client.get(f"https://platform.test{path}")
        assert response.headers["strict-transport-security"] == "max-age=31536000", path


async def test_plain_http_responses_have_no_hsts(platform: Platform) -> None:
    response = await platform.client.get("http://platform.test/console/login")
    assert "strict-transport-security" not in response.headers
