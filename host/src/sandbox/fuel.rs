//! Charging the guest for host work wasmtime does not meter.

use wasmtime::StoreContextMut;

/// Takes `cost` from the guest's fuel; at zero the guest traps with
/// `fuel-exhausted` at its next fuel check. Host functions (`crypto/`,
/// `keys.rs`) charge this for their work. Fuel is always on in ward's
/// engine, so the error branches are unreachable; they charge nothing.
pub(crate) fn charge_fuel<T>(cx: &mut StoreContextMut<'_, T>, cost: u64) {
    if let Ok(fuel) = cx.get_fuel() {
        let _ = cx.set_fuel(fuel.saturating_sub(cost));
    }
}
