//! Allocations kept from one record to the next.
//!
//! A record's fields, frames and array values borrow from the text they were decoded
//! from, so their vectors cannot outlive it as they are; emptied, the same allocations can
//! serve the next record, whose borrows have another lifetime. Allocating and freeing them
//! per record showed in profiles of `tprobe replay`.

use std::cell::RefCell;

use super::fields::Field;
use super::fields::Value;

/// `used`, emptied, as a vector for borrows of another lifetime, keeping its allocation.
pub(crate) fn emptied<'from, 'to, T: Relifetime<'from, 'to>>(mut used: Vec<T>) -> Vec<T::As> {
    T::clear(&mut used);
    let mut used = std::mem::ManuallyDrop::new(used);
    let (ptr, capacity) = (used.as_mut_ptr(), used.capacity());
    // SAFETY: the vector is empty, and `T` and `T::As` are the same type but for a
    // lifetime (see `Relifetime`), so they have the same size and alignment; the
    // allocation is handed over whole and no value of either lifetime is in it.
    unsafe { Vec::from_raw_parts(ptr.cast::<T::As>(), 0, capacity) }
}

/// A type and the same type with its borrows of lifetime `'from` changed to `'to`.
///
/// # Safety
/// `As` must differ from `Self` only in that lifetime (same layout).
pub(crate) unsafe trait Relifetime<'from, 'to>: Sized {
    type As;

    /// Empties `used`.
    fn clear(used: &mut Vec<Self>) {
        used.clear();
    }
}

// SAFETY: the same type but for the lifetime.
unsafe impl<'from, 'to> Relifetime<'from, 'to> for Field<'from> {
    type As = Field<'to>;

    fn clear(used: &mut Vec<Self>) {
        clear_fields(used);
    }
}

/// Empties `fields` that hold no array (a template without array fields made them)
/// without looking at each: no such field owns memory. Walking the fields to find arrays
/// showed in profiles, once per record.
#[inline]
pub(crate) fn forget_plain_fields(fields: &mut Vec<Field<'_>>) {
    debug_assert!(!fields
        .iter()
        .any(|field| matches!(field.value, Value::Array(_))));
    // SAFETY: a length of zero is within the capacity and needs no element initialised.
    // Had a field owned an array after all, its allocation would only be leaked.
    unsafe { fields.set_len(0) };
}

/// Empties `fields`, keeping the allocations of their array values for [`new_array`].
#[inline]
pub(crate) fn clear_fields(fields: &mut Vec<Field<'_>>) {
    // Only arrays own memory. Dropping the fields one by one showed in profiles.
    for field in fields.iter_mut() {
        if let Value::Array(items) = &mut field.value {
            keep_array(std::mem::take(items));
        }
    }
    // SAFETY: a length of zero is within the capacity and needs no element initialised;
    // no field let go of this way owns memory any more (above).
    unsafe { fields.set_len(0) };
}

// SAFETY: the same type but for the lifetime.
unsafe impl<'from, 'to> Relifetime<'from, 'to> for Value<'from> {
    type As = Value<'to>;
}

// SAFETY: the same type but for the lifetime.
unsafe impl<'from, 'to> Relifetime<'from, 'to> for &'from [u8] {
    type As = &'to [u8];
}

/// Spare arrays kept per thread; enough for the array fields of a few records.
const SPARE_ARRAYS: usize = 32;

thread_local! {
    /// Emptied vectors of array values, for the next array field. Per thread, so the
    /// parallel decoders share nothing; a thread-local keeps them out of the signature of
    /// every function between the decoder and the field matcher.
    static ARRAYS: RefCell<Vec<Vec<Value<'static>>>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector for an array value, with room for `capacity` values: a spare one when
/// there is one.
pub(crate) fn new_array<'a>(capacity: usize) -> Vec<Value<'a>> {
    match ARRAYS.with_borrow_mut(Vec::pop) {
        Some(spare) => {
            let mut array = emptied(spare);
            array.reserve(capacity);
            array
        }
        // Room for the common sizes, so a spare array fits whichever field takes it next.
        None => Vec::with_capacity(capacity.max(MIN_ARRAY)),
    }
}

/// The least room a new array value gets.
const MIN_ARRAY: usize = 8;

/// Keeps the allocation of an array value that is done with, for [`new_array`].
pub(crate) fn keep_array(array: Vec<Value<'_>>) {
    if array.capacity() == 0 {
        return;
    }
    let array: Vec<Value<'static>> = emptied(array);
    ARRAYS.with_borrow_mut(|spare| {
        if spare.len() < SPARE_ARRAYS {
            spare.push(array);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emptied_vectors_keep_their_allocation() {
        let text = b"a b c".to_vec();
        let frames: Vec<&[u8]> = text.split(|b| *b == b' ').collect();
        let capacity = frames.capacity();
        let reused: Vec<&'static [u8]> = emptied(frames);
        assert!(reused.is_empty());
        assert_eq!(reused.capacity(), capacity);
        // Without an array, the fields are let go of without dropping each.
        let fields = vec![
            Field {
                name: &text[..1],
                value: Value::Str(&text[2..3]),
            };
            3
        ];
        let capacity = fields.capacity();
        let reused: Vec<Field<'static>> = emptied(fields);
        assert!(reused.is_empty());
        assert_eq!(reused.capacity(), capacity);
    }

    #[test]
    fn arrays_of_emptied_fields_are_reused() {
        let text = b"x 1".to_vec();
        let mut items = new_array(4);
        items.push(Value::Str(&text[..1]));
        let allocation = items.as_ptr() as usize;
        let fields = vec![
            Field {
                name: &text[..1],
                value: Value::Array(items),
            },
            Field {
                name: &text[2..],
                value: Value::Signed(1),
            },
        ];
        let reused: Vec<Field<'static>> = emptied(fields);
        assert!(reused.is_empty());
        let again: Vec<Value<'_>> = new_array(2);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr() as usize, allocation, "the array came back");
        assert!(again.capacity() >= 4);
    }
}
