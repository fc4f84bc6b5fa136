// ward's side of the Haechi authProvider contract, evaluated once before the
// plugin's module (so the built-ins it keeps are the original ones) and
// snapshotted with it. Mirrors Haechi 1.7's process sandbox
// (packages/plugin/process-sandbox.mjs, PROCESS_HARNESS) and its host-side
// sanitizeClaims (packages/plugin/sandbox-common.mjs); docs/javascript.md
// lists where ward differs and why.
//
// The outcome the engine reads from `outcome` after the job queue has run dry:
//   null       the call has not settled (a never-settling promise): deny
//   0          a plugin deny ({deny:true}, a falsy or non-object reply, a
//              throw, a rejection, a reply JSON cannot serialize)
//   1          the engine read the reply itself (src/direct.rs) and holds
//              its JSON text
//   2          the call threw or rejected with QuickJS's stack overflow
//              RangeError: the host's stack-overflow deny
//   a string   the reply's JSON text, as Haechi's child writes it to its
//              host; the engine applies Haechi's claims checks to it
//              (src/reply.rs)
(() => {
  "use strict";
  const stringify = JSON.stringify;
  const resolve = Promise.resolve.bind(Promise);
  const then = Function.prototype.call.bind(Promise.prototype.then);
  const DENY = 0;
  const READ = 1;
  const STACK = 2;
  const RangeErrorType = RangeError;
  const STACK_MESSAGE = "Maximum call stack size exceeded";
  let entry = null;

  // Math.random. QuickJS seeds its own generator when the engine starts, so
  // its state is in the snapshot and every call would draw the same numbers.
  // This one (sfc32, Chris Doty-Humphrey's Small Fast Counter: not a CSPRNG,
  // like Math.random anywhere) is reseeded in every call that uses it, at its
  // first draw, with 128 bits of wasi:random (src/entropy.rs): a call that
  // never draws pays nothing. Installed before the plugin's module is
  // evaluated, so a plugin that keeps a reference to Math.random keeps this
  // one. At evaluation (top level, once, at load) it runs from a fixed state.
  let entropy = null;
  let unseeded = false;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 1;
  function next32() {
    const t = (((s0 + s1) | 0) + s3) | 0;
    s3 = (s3 + 1) | 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) | 0;
    s2 = (s2 << 21) | (s2 >>> 11);
    s2 = (s2 + t) | 0;
    return t >>> 0;
  }
  // 53 random bits as a double in [0, 1), as engines do. The seed is 128
  // uniform bits, so no outputs need discarding (as a weak seed's would).
  const random = {
    random() {
      if (unseeded) {
        unseeded = false;
        const seed = entropy();
        s0 = seed[0] | 0; s1 = seed[1] | 0; s2 = seed[2] | 0; s3 = seed[3] | 0;
      }
      return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
    },
  }.random;
  Math.random = random;

  // Haechi's order: default export, then `authenticate`, then `default.authenticate`.
  function pick(ns) {
    if (typeof ns.default === "function") return ns.default;
    if (typeof ns.authenticate === "function") return ns.authenticate;
    if (ns.default && typeof ns.default.authenticate === "function") return ns.default.authenticate;
    return null;
  }

  // What a throw or a rejection means: a deny, unless it is the engine's
  // own stack limit, which is a resource deny like any plugin's.
  function failed(error) {
    return error instanceof RangeErrorType && error.message === STACK_MESSAGE ? STACK : DENY;
  }

  // The engine's reader (src/direct.rs): it reads a reply that is plain
  // data itself and says so; JSON.stringify would run no code on such a
  // reply, so skipping it is unobservable. Anything else it declines.
  let read = null;

  function settle(out) {
    try {
      if (!out || out.deny === true || typeof out !== "object") return DENY;
      if (read(out)) return READ;
      const json = stringify(out);
      return typeof json === "string" ? json : DENY;
    } catch {
      return DENY;
    }
  }

  // The callbacks are made once, here, not per call.
  function fulfilled(out) {
    harness.outcome = settle(out);
  }
  function rejected(error) {
    harness.outcome = failed(error);
  }

  const harness = {
    outcome: null,
    bind(ns) {
      entry = pick(ns);
      return typeof entry === "function";
    },
    entropy(source) {
      entropy = source;
    },
    reader(source) {
      read = source;
    },
    start(credential, keyMaterial) {
      unseeded = true;
      let reply;
      try {
        reply = resolve(entry(credential, { keyMaterial }));
      } catch (error) {
        harness.outcome = failed(error);
        return;
      }
      then(reply, fulfilled, rejected);
    },
  };
  return harness;
})()
