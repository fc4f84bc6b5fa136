//! The reply read by the engine itself when `JSON.stringify` could run no
//! code on it.
//!
//! Haechi's host sees a reply as the JSON text its child wrote, and the
//! harness serializes the same way. QuickJS's `JSON.stringify` is general
//! (a wrapper object, a JavaScript array of keys per object, a cycle stack
//! that is a JavaScript array) and cost a small plugin's call more than the
//! plugin did (docs/javascript.md, "Session 15"). When a reply is plain data
//! (objects and arrays of QuickJS's ordinary classes with only data
//! properties, no `toJSON` on them or on any prototype they have, no proxy
//! or other exotic object anywhere, no array hole; values strings, numbers,
//! booleans, null or undefined), `JSON.stringify` runs no JavaScript, cannot
//! throw, and its text is fixed by that data. This module then writes text
//! that parses to the same JSON value, and src/reply.rs checks it as it
//! checks `JSON.stringify`'s. For anything else, or a reply deeper or larger
//! than replies are, it declines, and the harness calls `JSON.stringify`,
//! inside the same job: what a plugin can observe does not change.

use std::cell::RefCell;
use std::io::Write as _;

use rquickjs::atom::PredefinedAtom;
use rquickjs::{Array, Ctx, Function, Object, Value};

use crate::own::{self, Key, Own};

/// Deeper replies are left to `JSON.stringify` (which also finds cycles).
const MAX_DEPTH: usize = 16;
/// Values in a reply; more are left to `JSON.stringify`.
const MAX_VALUES: usize = 1024;
/// Objects on a prototype chain; longer chains are left to `JSON.stringify`.
const MAX_CHAIN: usize = 8;

thread_local! {
    /// The text of the reply read in this call, until the engine takes it.
    static TEXT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The text [`reader`]'s function stored in this call, taken once.
pub(crate) fn take() -> Option<String> {
    TEXT.with(|text| text.borrow_mut().take())
}

/// The function the harness offers each reply to: `true` when it read the
/// reply (its text is then [`take`]n by the engine), `false` when
/// `JSON.stringify` must.
pub(crate) fn reader<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Function<'js>> {
    // QuickJS's class ids of a plain object and an array, learnt from
    // one of each rather than copied from its sources.
    let classes = Classes { plain: own::class_id(&Object::new(ctx.clone())?), array: own::class_id(Array::new(ctx.clone())?.as_object()) };
    Function::new(ctx.clone(), move |reply: Value<'_>| -> bool {
        let mut writer = Writer { classes, to_json: Key::predefined(reply.ctx(), PredefinedAtom::ToJSON), text: Vec::new(), values: 0 };
        // Every piece written is UTF-8; the check costs less than a call.
        let Some(text) = writer.value(&reply, 0).and_then(|()| String::from_utf8(writer.text).ok()) else { return false };
        TEXT.with(|slot| *slot.borrow_mut() = Some(text));
        true
    })
}

/// QuickJS's class ids of a plain object and of an array: the two kinds of
/// object the reader reads (any other class may have exotic behaviour).
#[derive(Clone, Copy)]
struct Classes {
    plain: u32,
    array: u32,
}

#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Array,
}

impl Classes {
    fn kind(self, object: &Object<'_>) -> Option<Kind> {
        match own::class_id(object) {
            class if class == self.plain => Some(Kind::Plain),
            class if class == self.array => Some(Kind::Array),
            _ => None,
        }
    }
}

struct Writer<'js> {
    classes: Classes,
    to_json: Key<'js>,
    text: Vec<u8>,
    values: usize,
}

impl<'js> Writer<'js> {
    /// Writes `value` as `JSON.stringify` would; `None` declines. An
    /// `undefined` is for the caller to handle (a field left out, an array
    /// element written as `null`).
    fn value(&mut self, value: &Value<'js>, depth: usize) -> Option<()> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return None;
        }
        if let Some(text) = value.as_string() {
            // A lone surrogate is not UTF-8: declined, `JSON.stringify`
            // escapes it.
            return self.string(&text.to_string().ok()?);
        }
        if let Some(number) = value.as_int() {
            return write!(self.text, "{number}").ok();
        }
        if let Some(number) = value.as_float() {
            // Not finite: `JSON.stringify` writes null.
            return match serde_json::Number::from_f64(number) {
                Some(number) => write!(self.text, "{number}").ok(),
                None => {
                    self.text.extend_from_slice(b"null");
                    Some(())
                }
            };
        }
        if let Some(flag) = value.as_bool() {
            self.text.extend_from_slice(if flag { b"true" } else { b"false" });
            return Some(());
        }
        if value.is_null() {
            self.text.extend_from_slice(b"null");
            return Some(());
        }
        // Symbols, BigInts (which make `JSON.stringify` throw), functions
        // and every other kind of value are left to `JSON.stringify`.
        let object = value.as_object()?;
        if depth >= MAX_DEPTH {
            return None;
        }
        match self.kind_without_to_json(object)? {
            Kind::Array => self.array(object, depth),
            Kind::Plain => self.fields(object, depth),
        }
    }

    /// The object's kind, when it and every object on its prototype chain
    /// are plain objects or arrays and none has a `toJSON`: `JSON.stringify`
    /// looks `toJSON` up on every object with `[[Get]]`, along that chain,
    /// and on such a chain the lookup runs nothing and finds nothing.
    fn kind_without_to_json(&self, object: &Object<'js>) -> Option<Kind> {
        let kind = self.classes.kind(object)?;
        let mut link = object.clone();
        for _ in 0..MAX_CHAIN {
            let Own::Missing = own::own(&link, &self.to_json)? else { return None };
            match link.get_prototype() {
                Some(prototype) => {
                    self.classes.kind(&prototype)?;
                    link = prototype;
                }
                None => return Some(kind),
            }
        }
        None
    }

    fn fields(&mut self, object: &Object<'js>, depth: usize) -> Option<()> {
        self.text.push(b'{');
        let mut first = true;
        for key in own::enumerable_keys(object)? {
            // A getter would run code: declined, as a key that vanished
            // (which takes code too) would be.
            let Own::Data(value) = own::own(object, &key)? else { return None };
            if value.is_undefined() {
                continue;
            }
            if !first {
                self.text.push(b',');
            }
            first = false;
            self.string(&key.to_text()?)?;
            self.text.push(b':');
            self.value(&value, depth + 1)?;
        }
        self.text.push(b'}');
        Some(())
    }

    fn array(&mut self, object: &Object<'js>, depth: usize) -> Option<()> {
        let ctx = object.ctx();
        // `length` is an array's own data property; a length that is not a
        // small integer (past 2^31 QuickJS stores a float) is declined.
        let Own::Data(length) = own::own(object, &Key::predefined(ctx, PredefinedAtom::Length))? else { return None };
        let length = u32::try_from(length.as_int()?).ok()?;
        if length as usize > MAX_VALUES {
            return None;
        }
        self.text.push(b'[');
        for index in 0..length {
            if index > 0 {
                self.text.push(b',');
            }
            // A hole is looked up on the prototypes: declined.
            let Own::Data(value) = own::own(object, &Key::index(ctx, index)?)? else { return None };
            if value.is_undefined() {
                self.text.extend_from_slice(b"null");
            } else {
                self.value(&value, depth + 1)?;
            }
        }
        self.text.push(b']');
        Some(())
    }

    fn string(&mut self, text: &str) -> Option<()> {
        serde_json::to_writer(&mut self.text, text).ok()
    }
}
