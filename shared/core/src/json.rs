//! Reading untrusted JSON events: [`str_at`] for one field, and [`Lax`] and [`List`] for the
//! serde structs the classifiers read events into. A field of another JSON type than its struct
//! expects reads as absent, never as an error, so one odd field does not reject a whole event;
//! and a list keeps a bounded number of elements, so nothing grows with the event.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{
    BoolDeserializer, BorrowedStrDeserializer, F64Deserializer, I64Deserializer,
    MapAccessDeserializer, StrDeserializer, U64Deserializer, UnitDeserializer,
};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The string at `path` (object keys), if every step exists and the leaf is a string.
pub fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// A field that is `Some` when present and readable as a `T`, and `None` when it is absent,
/// null or of another JSON type (a struct reads only an object, never an array). Never fails.
/// For reading a parsed `Value` ([`lax`]): a streaming deserializer might not resume after a
/// `T` that failed half-way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lax<T>(pub Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

/// `value` read as a [`Lax`] field: `None` unless `T` reads it (a struct: an object).
pub fn lax<'a, T: Deserialize<'a>>(value: &'a Value) -> Option<T> {
    Lax::deserialize(value).ok().and_then(|Lax(t)| t)
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // As an option, so that a missing field reads as `None` without `#[serde(default)]`.
        d.deserialize_option(LaxVisitor(PhantomData))
    }
}

struct LaxVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LaxVisitor<T> {
    type Value = Lax<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_none<E: de::Error>(self) -> Result<Lax<T>, E> {
        self.visit_unit()
    }

    /// Null (or absent): `None`, unless `T` reads null (a `Lax`, so a list of them counts it).
    fn visit_unit<E: de::Error>(self) -> Result<Lax<T>, E> {
        Ok(Lax(T::deserialize(UnitDeserializer::<E>::new()).ok()))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lax<T>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lax<T>, E> {
        Ok(Lax(T::deserialize(BoolDeserializer::<E>::new(v)).ok()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lax<T>, E> {
        Ok(Lax(T::deserialize(I64Deserializer::<E>::new(v)).ok()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lax<T>, E> {
        Ok(Lax(T::deserialize(U64Deserializer::<E>::new(v)).ok()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lax<T>, E> {
        Ok(Lax(T::deserialize(F64Deserializer::<E>::new(v)).ok()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Lax<T>, E> {
        Ok(Lax(T::deserialize(StrDeserializer::<E>::new(v)).ok()))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Lax<T>, E> {
        Ok(Lax(
            T::deserialize(BorrowedStrDeserializer::<E>::new(v)).ok()
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lax<T>, A::Error> {
        let t = T::deserialize(MapAccessDeserializer::new(&mut map)).ok();
        // What `T` left unread (all of it, when `T` does not read objects) is skipped.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Lax(t))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lax<T>, A::Error> {
        let t = T::deserialize(Array(&mut seq)).ok();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lax(t))
    }
}

/// An array offered to a [`Lax`] field's `T`: anything but a struct may read it (serde's derived
/// structs would take the elements, in order, for their fields).
struct Array<A>(A);

impl<'de, A: SeqAccess<'de>> Deserializer<'de> for Array<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_seq(self.0)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Seq, &visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// An array's first `N` elements that are a `T` (each read as a [`Lax`] field); the rest are
/// skipped. Reads only an array: a field that may be anything else is a `Lax<List<T, N>>`.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T, const N: usize>(pub Vec<T>);

impl<T, const N: usize> Lax<List<T, N>> {
    /// The elements; none when the field is absent or not an array.
    pub fn items(self) -> Vec<T> {
        self.0.map_or_else(Vec::new, |l| l.0)
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for List<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T, const N: usize>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for ListVisitor<T, N> {
    type Value = List<T, N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T, N>, A::Error> {
        let mut items = Vec::new();
        while items.len() < N {
            match seq.next_element::<Lax<T>>()? {
                Some(Lax(item)) => items.extend(item),
                None => return Ok(List(items)),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(List(items))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(bound(deserialize = "'de: 'a"))]
    struct Probe<'a> {
        name: Lax<&'a str>,
        count: Lax<u64>,
        inner: Lax<Inner<'a>>,
        list: Lax<List<Lax<Inner<'a>>, 2>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner<'a> {
        name: &'a str,
    }

    #[test]
    fn a_field_of_the_wrong_type_reads_as_absent() {
        let v = json!({"name": 5, "count": -1, "inner": ["x"], "list": {"name": "x"}});
        let p = lax::<Probe>(&v);
        assert_eq!(
            p,
            Some(Probe {
                name: Lax(None),
                count: Lax(None),
                inner: Lax(None),
                list: Lax(None),
            })
        );
        assert_eq!(lax::<Probe>(&json!([1, {}, null, null])), None);
        assert_eq!(lax::<u64>(&json!(3.0)), None);
        assert_eq!(lax::<f64>(&json!(3)), Some(3.0));
    }

    #[test]
    fn a_list_of_lax_elements_counts_every_element_null_and_arrays_too() {
        let v = json!([null, ["x"], {"name": "a"}, {"name": "b"}]);
        let got = lax::<List<Lax<Inner>, 3>>(&v).map(|l| l.0);
        let want = vec![Lax(None), Lax(None), Lax(Some(Inner { name: "a" }))];
        assert_eq!(got, Some(want));
    }

    #[test]
    fn a_list_keeps_the_first_elements_that_are_its_type_and_an_array_is_never_a_struct() {
        let v = json!([1, "x", ["a"], {"name": 2}, {"name": "a"}, {"name": "b"}, {"name": "c"}]);
        let names = lax::<List<Inner, 2>>(&v).map(|l| l.0);
        assert_eq!(names, Some(vec![Inner { name: "a" }, Inner { name: "b" }]));
        assert_eq!(lax::<Inner>(&json!(["a"])), None);
    }
}
