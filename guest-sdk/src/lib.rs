//! Write a ward authentication plugin in plain Rust.
//!
//! ```ignore
//! use ward_guest::{Authenticator, Claims, Context, Credential, Deny};
//!
//! struct Acme;
//! impl Authenticator for Acme {
//!     fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
//!         let secret = ctx.setting("secret").ok_or(Deny::Denied)?;
//!         if !ward_guest::ct_eq(cred.token.as_bytes(), secret.as_bytes()) {
//!             return Err(Deny::BadSignature);
//!         }
//!         Ok(Claims::new("alice").scope("read"))
//!     }
//! }
//! ward_guest::export!(Acme);
//! ```
//!
//! The crate is built for `wasm32-unknown-unknown` and turned into a component
//! by `ward plugin build`; the component exports `ward:auth/authenticator@0.1.0`
//! and imports nothing.
//!
//! With the cargo feature `host-crypto`, the component is built against
//! `ward:auth@0.2.0` instead: it exports the identical
//! `ward:auth/authenticator@0.2.0` and imports `ward:auth/crypto@0.2.0`,
//! which [`crypto`] wraps. Such a plugin loads only if its signed envelope
//! declares `hostCrypto: true` and the operator allows that capability.
//!
//! With the cargo feature `key-lookup` (alone or with `host-crypto`), it is
//! built against `ward:auth@0.3.0`: it exports `ward:auth/authenticator@0.3.0`
//! and imports `ward:auth/keys@0.3.0`, which `keys` wraps (and, when
//! [`crypto`] is on and called, `ward:auth/crypto@0.3.0`). A component
//! imports only the interfaces its code calls. A plugin that imports `keys`
//! loads only if its signed envelope declares `keyLookup: true` and the
//! operator allows that capability.

pub mod base64url;
#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
mod bump;
#[cfg(feature = "host-crypto")]
pub mod crypto;
mod ct;
#[cfg(feature = "key-lookup")]
pub mod keys;
mod types;

pub use ct::ct_eq;
pub use types::{Claims, Context, Credential, Deny, Key, PrincipalType};

#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump::new();

/// The generated bindings. Not part of the API: reached only through `export!`.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
// The canonical-ABI glue wit-bindgen generates (exported `extern "C"`
// functions, raw pointer lifting and `cabi_realloc`) is `unsafe` by nature;
// the allow is scoped to this module, which holds nothing hand-written.
pub mod bindings {
    #[cfg(not(any(feature = "host-crypto", feature = "key-lookup")))]
    wit_bindgen::generate!({
        path: "../wit",
        world: "ward:auth/plugin",
        pub_export_macro: true,
        default_bindings_module: "ward_guest::bindings",
        export_macro_name: "__export_plugin",
    });
    // Only 0.2.0 is in this resolve, so the generated module paths are the
    // same as 0.1.0's and the rest of the crate does not change.
    #[cfg(all(feature = "host-crypto", not(feature = "key-lookup")))]
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "ward:auth/plugin-host-crypto",
        pub_export_macro: true,
        default_bindings_module: "ward_guest::bindings",
        export_macro_name: "__export_plugin",
    });
    // Likewise only 0.3.0. Its one world lists both `crypto` and `keys`; the
    // core module imports only the functions the plugin calls (the linker
    // drops the rest), and the component encoder imports only the
    // interfaces the core module does. So a plugin that never calls
    // `crypto` does not import it, and needs no `hostCrypto`.
    #[cfg(feature = "key-lookup")]
    wit_bindgen::generate!({
        path: "../wit/0.3.0",
        world: "ward:auth/plugin",
        pub_export_macro: true,
        default_bindings_module: "ward_guest::bindings",
        export_macro_name: "__export_plugin",
    });
}

use bindings::exports::ward::auth::authenticator as wit;

/// What a plugin implements: one pure decision per credential.
///
/// A fresh instance serves every call, so statics never carry state from one
/// call to the next.
pub trait Authenticator {
    /// Decide who `cred` belongs to, or why it is refused.
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny>;
}

/// Bridges an [`Authenticator`] to the generated export trait. Public only so
/// `export!` can name it from the plugin crate.
#[doc(hidden)]
pub struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: Authenticator> wit::Guest for Adapter<T> {
    fn authenticate(credential: wit::Credential, context: wit::RequestContext) -> Result<wit::Claims, wit::DenyReason> {
        let cred = Credential::from(credential);
        let ctx = Context::from(context);
        T::authenticate(&cred, &ctx).map(Into::into).map_err(Into::into)
    }
}

/// Exports `$ty` (an [`Authenticator`]) as the plugin's `authenticate`.
/// Use it once, at the crate root of a `cdylib`.
#[macro_export]
macro_rules! export {
    ($ty:ty) => {
        // The generated export macro takes an identifier, hence the alias.
        #[doc(hidden)]
        type __WardGuestExport = $crate::Adapter<$ty>;
        $crate::bindings::__export_plugin!(__WardGuestExport with_types_in $crate::bindings);
    };
}
