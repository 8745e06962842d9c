"""JWT verification: every forged, altered or stale token is 401
`unauthorized`; tokens are minted here with hmac + hashlib, using the real
secret from DATA_DIR/jwt.key where the attack assumes the attacker has it
(or the test needs a well-formed token with one thing wrong). Also key
rotation through jwt.key, and --jwt-ttl / --jwt-issuer / --jwt-audience."""

import json
import os
import stat
import time

import pytest

from authutil import (Api, assert_unauthorized, b64url, b64url_decode, jwt_parts, mint_jwt,
                      read_jwt_keys, unique_email, PASSWORD)

OPTS = {"login_rate": 100000, "login_burst": 100000}
ISS = AUD = "warplink"  # the documented defaults of --jwt-issuer / --jwt-audience


@pytest.fixture(scope="module")
def srv(module_factory):
    return module_factory.start(opts=OPTS)


@pytest.fixture(scope="module")
def api(srv):
    return Api(srv)


@pytest.fixture(scope="module")
def user(api):
    return api.new_user("jwt")


@pytest.fixture(scope="module")
def key(srv, user):
    # jwt.key exists once the server is up (user fixture has logged in)
    kid, secret = read_jwt_keys(srv.data_dir)[0]
    return kid, secret


def probe(api, token):
    """A JWT-only endpoint."""
    return api.req("GET", "/user/api-keys", token=token)


def claims(user, **over):
    now = int(time.time())
    c = {"iss": ISS, "sub": str(user.user_id), "aud": AUD, "iat": now, "exp": now + 600}
    c.update(over)
    return c


def header(kid, alg="HS256"):
    return {"alg": alg, "typ": "JWT", "kid": kid}


def test_key_file_mode_0600(srv, user):
    st = os.stat(srv.data_dir / "jwt.key")
    assert stat.S_IMODE(st.st_mode) & 0o077 == 0, oct(st.st_mode)


def test_server_token_accepted_and_uses_file_key(api, user, key):
    assert probe(api, user.token).status_code == 200
    hdr, payload, _ = jwt_parts(user.token)
    assert hdr["alg"] == "HS256" and hdr["kid"] == key[0]
    assert payload["sub"] == str(user.user_id)
    assert payload["iss"] == ISS and payload["aud"] == AUD


def test_control_minted_token_accepted(api, user, key):
    """Our minting is right: otherwise every 401 below would prove nothing."""
    kid, secret = key
    tok = mint_jwt(secret, header(kid), claims(user))
    r = probe(api, tok)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_401(api, user, key, alg):
    kid, secret = key
    unsigned = mint_jwt(secret, header(kid, alg), claims(user), alg="none")
    assert_unauthorized(probe(api, unsigned))
    # ... also with a real HS256 signature attached
    signed = mint_jwt(secret, header(kid, alg), claims(user))
    assert_unauthorized(probe(api, signed))


@pytest.mark.parametrize("alg", ["HS512", "HS384"])
def test_other_hmac_alg_401(api, user, key, alg):
    kid, secret = key
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid, alg), claims(user), alg=alg)))


def test_header_says_hs512_but_signed_hs256_401(api, user, key):
    kid, secret = key
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid, "HS512"), claims(user))))


@pytest.mark.parametrize("pos", [0, 15, 31])
def test_flipped_signature_byte_401(api, user, pos):
    h, p, s = user.token.split(".")
    sig = bytearray(b64url_decode(s))
    assert len(sig) == 32
    sig[pos] ^= 0x01
    assert_unauthorized(probe(api, f"{h}.{p}.{b64url(bytes(sig))}"))
    assert probe(api, user.token).status_code == 200  # the original still works


def test_truncated_or_extended_signature_401(api, user):
    h, p, s = user.token.split(".")
    sig = b64url_decode(s)
    assert_unauthorized(probe(api, f"{h}.{p}.{b64url(sig[:-1])}"))
    assert_unauthorized(probe(api, f"{h}.{p}.{b64url(sig + b'x')}"))
    assert_unauthorized(probe(api, f"{h}.{p}."))
    assert_unauthorized(probe(api, f"{h}.{p}"))


def test_payload_swapped_keeping_signature_401(api, user, key):
    """Changing sub to another user without re-signing."""
    other = api.new_user("victim")
    h, _, s = user.token.split(".")
    _, payload, _ = jwt_parts(user.token)
    payload["sub"] = str(other.user_id)
    p2 = b64url(json.dumps(payload, separators=(",", ":")))
    assert_unauthorized(probe(api, f"{h}.{p2}.{s}"))


def test_expired_401(api, user, key):
    kid, secret = key
    now = int(time.time())
    tok = mint_jwt(secret, header(kid), claims(user, iat=now - 7200, exp=now - 3600))
    assert_unauthorized(probe(api, tok))
    tok = mint_jwt(secret, header(kid), claims(user, iat=now - 120, exp=now - 60))
    assert_unauthorized(probe(api, tok))


def test_not_yet_valid_401(api, user, key):
    kid, secret = key
    now = int(time.time())
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid), claims(user, nbf=now + 3600))))


def test_wrong_audience_401(api, user, key):
    kid, secret = key
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid), claims(user, aud="other"))))
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid), claims(user, aud=["other"]))))


def test_wrong_issuer_401(api, user, key):
    kid, secret = key
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid), claims(user, iss="evil"))))
    c = claims(user)
    del c["iss"]
    assert_unauthorized(probe(api, mint_jwt(secret, header(kid), c)))


def test_unknown_kid_401(api, user, key):
    kid, secret = key
    assert_unauthorized(probe(api, mint_jwt(secret, header("not-" + kid), claims(user))))


def test_wrong_secret_401(api, user, key):
    kid, secret = key
    assert_unauthorized(probe(api, mint_jwt(bytes(reversed(secret)), header(kid), claims(user))))


def test_nonexistent_user_401(api, user, key):
    kid, secret = key
    for sub in ("987654321", "0", "-1", "abc", ""):
        tok = mint_jwt(secret, header(kid), claims(user, sub=sub))
        assert_unauthorized(probe(api, tok))
        # ... on every kind of protected endpoint, also creation
        assert_unauthorized(api.create("https://example.com/x", token=tok))


def test_tampered_token_on_optional_endpoint_401(api, user):
    """POST /links with a bad token must not fall back to anonymous."""
    h, p, s = user.token.split(".")
    sig = bytearray(b64url_decode(s))
    sig[0] ^= 0x80
    assert_unauthorized(api.create("https://example.com/y", token=f"{h}.{p}.{b64url(bytes(sig))}"))


# -- rotation and configuration ------------------------------------------------------
def write_keyfile(path, lines):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def new_secret():
    return os.urandom(32)


def test_key_rotation(server_factory):
    s1 = server_factory.start(opts=OPTS)
    api1 = Api(s1)
    u = api1.new_user("rot")
    old_kid, old_secret = read_jwt_keys(s1.data_dir)[0]
    assert s1.stop() == 0

    # prepend a new signer: old tokens still valid, new ones carry the new kid
    path = s1.data_dir / "jwt.key"
    new_kid, new_sec = "rot2", new_secret()
    write_keyfile(path, [f"{new_kid} {b64url(new_sec)}", f"{old_kid} {b64url(old_secret)}"])
    s2 = server_factory.start(data_dir=s1.data_dir, opts=OPTS)
    api2 = Api(s2)
    assert probe(api2, u.token).status_code == 200, "old token refused after rotation"
    r = api2.login(u.email)
    assert r.status_code == 200
    tok2 = r.json()["access_token"]
    hdr, _, _ = jwt_parts(tok2)
    assert hdr["kid"] == new_kid
    assert mint_jwt(new_sec, hdr, jwt_parts(tok2)[1]) == tok2  # signed with the new secret
    assert probe(api2, tok2).status_code == 200
    assert s2.stop() == 0

    # append an extra (older) key: tokens signed with it verify; signer unchanged
    extra_kid, extra_sec = "older", new_secret()
    write_keyfile(path, [f"{new_kid} {b64url(new_sec)}", f"{old_kid} {b64url(old_secret)}",
                         f"{extra_kid} {b64url(extra_sec)}"])
    s3 = server_factory.start(data_dir=s1.data_dir, opts=OPTS)
    api3 = Api(s3)
    now = int(time.time())
    c = {"iss": ISS, "sub": str(u.user_id), "aud": AUD, "iat": now, "exp": now + 600}
    assert probe(api3, mint_jwt(extra_sec, header(extra_kid), c)).status_code == 200
    assert jwt_parts(api3.login(u.email).json()["access_token"])[0]["kid"] == new_kid
    assert s3.stop() == 0

    # retire the old key: its tokens stop working
    write_keyfile(path, [f"{new_kid} {b64url(new_sec)}"])
    s4 = server_factory.start(data_dir=s1.data_dir, opts=OPTS)
    api4 = Api(s4)
    assert_unauthorized(probe(api4, u.token))
    assert probe(api4, tok2).status_code == 200


def test_ttl_issuer_audience_options(server_factory):
    s = server_factory.start(opts=dict(OPTS, jwt_ttl=120, jwt_issuer="iss-x",
                                       jwt_audience="aud-y"))
    api = Api(s)
    email = unique_email("cfg")
    assert api.register(email).status_code == 201
    r = api.login(email, PASSWORD)
    assert r.status_code == 200
    doc = r.json()
    assert doc["expires_in"] == 120
    _, payload, _ = jwt_parts(doc["access_token"])
    assert payload["exp"] - payload["iat"] == 120
    assert payload["iss"] == "iss-x" and payload["aud"] == "aud-y"
    assert probe(api, doc["access_token"]).status_code == 200
    kid, secret = read_jwt_keys(s.data_dir)[0]
    base = dict(payload)
    for over in ({"iss": ISS}, {"aud": AUD}, {"iss": ISS, "aud": AUD}):
        assert_unauthorized(probe(api, mint_jwt(secret, header(kid), dict(base, **over))))
