// example-token's check as a JavaScript plugin (a Haechi authProvider):
// `demo.<user>.<mac>`, mac = base64url(HMAC-SHA256(secret, user)) without
// padding, user matching [a-z0-9_-]{1,64}. The same tokens as the Rust
// plugin (plugins/example-token) allow the same users.
//
// A JavaScript plugin gets the credential and `{ keyMaterial }`, no
// settings: the secret (and optional issuer, scopes, team) come from the
// plugin's key-material document, a JSON object such as
//   { "secret": "…", "issuer": "demo", "scopes": "orders:read", "team": "billing" }
// QuickJS has no WebCrypto, so SHA-256 is written out below (FIPS 180-4).

const USER = /^[a-z0-9_-]{1,64}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;

export default function authenticate(credential, { keyMaterial }) {
  const config = parseConfig(keyMaterial);
  if (config === null) {
    return { deny: true };
  }
  const parts = credential.split(".");
  if (parts.length !== 3 || parts[0] !== "demo" || !USER.test(parts[1]) || !MAC.test(parts[2])) {
    return { deny: true };
  }
  const [, user, mac] = parts;
  if (!equalInConstantTime(base64url(hmacSha256(utf8(config.secret), utf8(user))), mac)) {
    return { deny: true };
  }
  const claims = { subject: user, issuer: config.issuer ?? "example-token", type: "user" };
  if (typeof config.scopes === "string") {
    claims.scopes = config.scopes.split(/\s+/).filter((s) => s.length > 0);
  }
  if (typeof config.team === "string") {
    claims.labels = { team: config.team };
  }
  return claims;
}

// The key-material document, or null (no secret configured: deny all).
function parseConfig(text) {
  if (typeof text !== "string") {
    return null;
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch {
    return null;
  }
  if (config === null || typeof config !== "object" || typeof config.secret !== "string" || config.secret.length === 0) {
    return null;
  }
  return config;
}

// Every character compared whatever the first difference, so the time
// taken does not say how much of a guessed MAC was right.
function equalInConstantTime(a, b) {
  if (a.length !== b.length) {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return diff === 0;
}

function utf8(text) {
  const out = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function base64url(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(bytes.length - i, 3) + 1;
    for (let j = 0; j < chars; j++) {
      out += ALPHABET[(n >> (18 - 6 * j)) & 63];
    }
  }
  return out;
}

function hmacSha256(key, message) {
  const BLOCK = 64;
  let k = key.length > BLOCK ? sha256(key) : key.slice();
  while (k.length < BLOCK) k.push(0);
  const inner = sha256(k.map((b) => b ^ 0x36).concat(message));
  return sha256(k.map((b) => b ^ 0x5c).concat(inner));
}

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// SHA-256 of a byte array, as a byte array.
function sha256(bytes) {
  const length = bytes.length;
  const padded = bytes.concat([0x80]);
  while (padded.length % 64 !== 56) padded.push(0);
  const bits = length * 8;
  // Message length in bits, big-endian in 8 bytes (inputs here are far below 2^32 bits).
  padded.push(0, 0, 0, 0, (bits >>> 24) & 255, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255);
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = new Array(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) {
      const i = block + 4 * t;
      w[t] = ((padded[i] << 24) | (padded[i + 1] << 16) | (padded[i + 2] << 8) | padded[i + 3]) >>> 0;
    }
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0;
      d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    const next = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i++) h[i] = (h[i] + next[i]) >>> 0;
  }
  const out = [];
  for (const word of h) out.push((word >>> 24) & 255, (word >>> 16) & 255, (word >>> 8) & 255, word & 255);
  return out;
}

function rotr(x, n) {
  return (x >>> n) | (x << (32 - n));
}
