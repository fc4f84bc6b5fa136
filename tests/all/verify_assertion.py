"""An independent check of ward's identity assertion: PyJWT (with the
`cryptography` backend for EdDSA) fetches ward's JWK Set from
/.well-known/jwks.json, picks the key by the token's `kid`, and verifies the
signature, `aud`, `iss`, `exp` and `iat`, as an upstream would. Prints the
verified claims as JSON, and what it refused, for tests/all/routes.rs.

usage: verify_assertion.py JWKS_URL TOKEN AUDIENCE
"""

import json
import sys
import urllib.request

import jwt

jwks_url, token, audience = sys.argv[1:4]

with urllib.request.urlopen(jwks_url, timeout=10) as answer:
    document = json.load(answer)
    content_type = answer.headers.get("Content-Type")

key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    key.key,
    algorithms=["EdDSA"],
    audience=audience,
    issuer="ward",
    options={"require": ["exp", "iat", "aud", "iss", "sub"]},
)


def refused(token, audience):
    try:
        jwt.decode(token, key.key, algorithms=["EdDSA"], audience=audience, issuer="ward")
    except jwt.InvalidTokenError as err:
        return type(err).__name__
    return None


header_b64, payload_b64, signature_b64 = token.split(".")
# One claim changed, the signature kept: an upstream must refuse it.
forged_payload = jwt.utils.base64url_encode(json.dumps(dict(claims, scopes=["admin"])).encode()).decode()
print(
    json.dumps(
        {
            "claims": claims,
            "header": jwt.get_unverified_header(token),
            "jwks": document,
            "jwks_content_type": content_type,
            "wrong_audience": refused(token, "another-app"),
            "forged_claims": refused(f"{header_b64}.{forged_payload}.{signature_b64}", audience),
        }
    )
)
