#!/usr/bin/env python3
"""Writes jwks.json (the trusted JWKS), jwks-4096.json and attacker-jwks.json from the PEM
keys in this directory. Only openssl and the standard library: the JWK
members come from openssl's own DER and text output, not from ward code."""
import base64, json, re, subprocess

def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def public_der(pem: str) -> bytes:
    return subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout

def okp(pem, **extra):
    return {"kty": "OKP", "crv": "Ed25519", **extra, "x": b64u(public_der(pem)[-32:])}

def ec(pem, **extra):
    point = public_der(pem)[-65:]
    assert point[0] == 4, "uncompressed P-256 point expected"
    return {"kty": "EC", "crv": "P-256", **extra, "x": b64u(point[1:33]), "y": b64u(point[33:])}

def rsa(pem, **extra):
    text = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-modulus", "-text"], check=True, capture_output=True, text=True).stdout
    modulus = bytes.fromhex(re.search(r"^Modulus=([0-9A-F]+)$", text, re.M).group(1))
    exponent = int(re.search(r"^publicExponent: (\d+)", text, re.M).group(1))
    return {"kty": "RSA", **extra, "n": b64u(modulus), "e": b64u(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"))}

trusted = {"keys": [
    okp("ed25519.pem", kid="ed-1", use="sig"),
    ec("p256-a.pem", kid="ec-1", alg="ES256"),
    ec("p256-b.pem", kid="ec-2"),
    rsa("rsa-2048.pem", kid="rsa-rs256", alg="RS256", use="sig"),
    rsa("rsa-3072.pem", kid="rsa-ps256", alg="PS256"),
    rsa("rsa-1024.pem", kid="rsa-1024", alg="RS256"),
    # The RS256 key again, marked for encryption only: never a signing key.
    rsa("rsa-2048.pem", kid="rsa-enc", use="enc"),
    # The HS256 secret as a symmetric JWK: a JWKS is public, so never used.
    {"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64u(open("hs256.secret", "rb").read())},
]}
attacker = {"keys": [okp("attacker-ed25519.pem", kid="attacker")]}
# A JWKS of its own, so that kid-less RS256 tokens still fit one key in jwks.json.
large = {"keys": [rsa("rsa-4096.pem", kid="rsa-4096", alg="RS256")]}

for name, doc in [("jwks.json", trusted), ("attacker-jwks.json", attacker), ("jwks-4096.json", large)]:
    with open(name, "w") as out:
        json.dump(doc, out, indent=2)
        out.write("\n")
