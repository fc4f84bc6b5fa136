//! An object's own properties, read as descriptors: without running any
//! JavaScript, where rquickjs's safe API reads with `[[Get]]` (which runs
//! getters). src/direct.rs builds on these to tell whether a reply could
//! run code while it is serialized.
//!
//! Each function here is a thin wrapper over one QuickJS C call; every
//! value it returns is owned (its reference released on drop), and every
//! atom and table QuickJS hands back is freed before the function returns
//! or when its owner drops.

use core::ptr::{self, NonNull};

use rquickjs::atom::PredefinedAtom;
use rquickjs::{Ctx, Object, Value, qjs};

/// QuickJS's class id of an object (`JS_CLASS_OBJECT`, `JS_CLASS_ARRAY`,
/// `JS_CLASS_PROXY`, ...): the engine's own record of what the object is,
/// which no script can change.
pub(crate) fn class_id(object: &Object<'_>) -> u32 {
    // SAFETY: `object` holds a reference to a live object of this runtime;
    // JS_GetClassID reads its header and nothing else.
    #[allow(unsafe_code)]
    unsafe {
        qjs::JS_GetClassID(object.as_raw())
    }
}

/// A property key, freed on drop.
pub(crate) struct Key<'js> {
    ctx: Ctx<'js>,
    atom: qjs::JSAtom,
}

impl<'js> Key<'js> {
    /// One of QuickJS's predefined names (`length`, `toJSON`): a constant
    /// atom, made without a lookup; freeing it does nothing.
    pub(crate) fn predefined(ctx: &Ctx<'js>, name: PredefinedAtom) -> Self {
        Key { ctx: ctx.clone(), atom: name as qjs::JSAtom }
    }

    /// The array index `index`.
    pub(crate) fn index(ctx: &Ctx<'js>, index: u32) -> Option<Self> {
        // SAFETY: no pointer argument; the atom returned is owned here.
        #[allow(unsafe_code)]
        let atom = unsafe { qjs::JS_NewAtomUInt32(ctx.as_raw().as_ptr(), index) };
        (atom != qjs::JS_ATOM_NULL).then(|| Key { ctx: ctx.clone(), atom })
    }

    /// The key as a Rust string; `None` when it is not valid UTF-8 (a lone
    /// surrogate).
    pub(crate) fn to_text(&self) -> Option<String> {
        // SAFETY: the atom is live (owned by `self`); the value returned is
        // a new reference, owned by the `Value` made from it.
        #[allow(unsafe_code)]
        let value = unsafe { Value::from_raw(self.ctx.clone(), qjs::JS_AtomToString(self.ctx.as_raw().as_ptr(), self.atom)) };
        value.as_string()?.to_string().ok()
    }
}

impl Drop for Key<'_> {
    fn drop(&mut self) {
        // SAFETY: the atom was made or duplicated for this `Key` alone.
        #[allow(unsafe_code)]
        unsafe {
            qjs::JS_FreeAtom(self.ctx.as_raw().as_ptr(), self.atom)
        }
    }
}

/// What an object holds under a key, without calling a getter.
pub(crate) enum Own<'js> {
    Missing,
    /// A getter or setter: reading it would run code.
    Accessor,
    Data(Value<'js>),
}

/// The object's own property `key`. `None` when QuickJS fails (out of
/// memory). Only for objects whose class has no exotic behaviour (plain
/// objects and arrays): a proxy's would run its trap.
pub(crate) fn own<'js>(object: &Object<'js>, key: &Key<'js>) -> Option<Own<'js>> {
    let ctx = object.ctx();
    let mut desc = qjs::JSPropertyDescriptor { flags: 0, value: qjs::JS_UNDEFINED, getter: qjs::JS_UNDEFINED, setter: qjs::JS_UNDEFINED };
    // SAFETY: `desc` is a valid descriptor to fill; the object and atom are
    // live. On 1, QuickJS hands over one reference each to value, getter
    // and setter (undefined when absent), each then owned by a `Value`.
    #[allow(unsafe_code)]
    let (value, accessors) = unsafe {
        match qjs::JS_GetOwnProperty(ctx.as_raw().as_ptr(), &mut desc, object.as_raw(), key.atom) {
            1 => {}
            0 => return Some(Own::Missing),
            _ => return None,
        }
        (Value::from_raw(ctx.clone(), desc.value), [Value::from_raw(ctx.clone(), desc.getter), Value::from_raw(ctx.clone(), desc.setter)])
    };
    drop(accessors);
    if desc.flags & qjs::JS_PROP_GETSET as i32 != 0 {
        return Some(Own::Accessor);
    }
    Some(Own::Data(value))
}

/// The object's own enumerable string keys, in the order `Object.keys`
/// (and so `JSON.stringify`) gives them. Same restriction as [`own`].
pub(crate) fn enumerable_keys<'js>(object: &Object<'js>) -> Option<Vec<Key<'js>>> {
    let ctx = object.ctx();
    let mut table: *mut qjs::JSPropertyEnum = ptr::null_mut();
    let mut len: u32 = 0;
    let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
    // SAFETY: QuickJS fills `table` with `len` entries it allocated; each
    // atom is duplicated into a `Key` (which frees it) before the table and
    // its own atoms are freed with JS_FreePropertyEnum.
    #[allow(unsafe_code)]
    unsafe {
        if qjs::JS_GetOwnPropertyNames(ctx.as_raw().as_ptr(), &mut table, &mut len, object.as_raw(), flags) != 0 {
            return None;
        }
        let Some(table) = NonNull::new(table) else { return (len == 0).then(Vec::new) };
        let entries = core::slice::from_raw_parts(table.as_ptr(), len as usize);
        let keys = entries.iter().map(|entry| Key { ctx: ctx.clone(), atom: qjs::JS_DupAtom(ctx.as_raw().as_ptr(), entry.atom) }).collect();
        qjs::JS_FreePropertyEnum(ctx.as_raw().as_ptr(), table.as_ptr(), len);
        Some(keys)
    }
}
