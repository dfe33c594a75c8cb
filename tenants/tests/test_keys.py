from tenants import keys


def test_it_round_trips_a_generated_key():
    full, prefix, secret_hash = keys.generate()
    parsed = keys.parse(full)
    assert parsed is not None
    assert parsed[0] == prefix
    assert keys.secret_matches(parsed[1], secret_hash)
    assert not keys.secret_matches(parsed[1] + "x", secret_hash)


def test_it_rejects_malformed_keys():
    for bad in ["", "sgt_", "sk_abc", "sgt_SHORT_secret", "sgt_abcdefghijkl-" + "x" * 43, "sgt_abcdefghijkl_short"]:
        assert keys.parse(bad) is None


def test_it_authenticates_with_x_api_key_and_bearer(client_a, tenant, make_key):
    from rest_framework.test import APIClient

    key = make_key(tenant, ["chat"])
    from tenants.auth import authenticate_key

    principal = authenticate_key(key)
    assert principal.tenant == tenant
    assert principal.has_scope("chat") and not principal.has_scope("jobs")
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert c.get("/api/v1/nope").status_code == 404
