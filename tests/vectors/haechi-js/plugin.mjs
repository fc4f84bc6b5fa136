// A Haechi authProvider, unchanged: the logic of Haechi's reference and
// benchmark plugin (a string-prefix check returning subject, issuer, scopes).
export default async function authenticate(credential, { keyMaterial }) {
  if (typeof credential !== "string" || !credential.startsWith("good-token-")) {
    return { deny: true };
  }
  return {
    subject: credential.slice("good-token-".length) || "anon",
    issuer: "reference-issuer",
    type: "user",
    scopes: keyMaterial === null ? ["read"] : ["read", "keyed"]
  };
}
