//! Typed values attached to a call: what interceptors hand to handlers.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// A map from a type to one value of that type, for values interceptors attach
/// to a call (the authenticated principal, the trace context) and handlers read.
///
/// Values are shared (`Arc`), so cloning the map is cheap: a client call made
/// from a handler with [`RequestOptions::child_of`](super::RequestOptions::child_of)
/// carries the handler's extensions along.
#[derive(Clone, Default)]
pub struct Extensions {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Extensions::default()
    }

    /// Stores `value`, replacing the value of the same type; returns whether
    /// one was replaced.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> bool {
        self.map
            .insert(TypeId::of::<T>(), Arc::new(value))
            .is_some()
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }

    /// Removes the value of type `T`; returns whether there was one.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> bool {
        self.map.remove(&TypeId::of::<T>()).is_some()
    }

    /// Whether a value of type `T` is stored.
    pub fn contains<T: Send + Sync + 'static>(&self) -> bool {
        self.map.contains_key(&TypeId::of::<T>())
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no value is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Copies every value of `other` in, replacing values of the same types.
    pub fn extend(&mut self, other: &Extensions) {
        for (id, value) in &other.map {
            self.map.insert(*id, value.clone());
        }
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Principal(&'static str);

    #[test]
    fn one_value_per_type() {
        let mut ext = Extensions::new();
        assert!(ext.is_empty());
        assert!(!ext.insert(Principal("alice")));
        assert!(ext.insert(Principal("bob")));
        ext.insert(7u32);
        assert_eq!(ext.get::<Principal>(), Some(&Principal("bob")));
        assert_eq!(ext.get::<u32>(), Some(&7));
        assert_eq!(ext.get::<u64>(), None);
        assert_eq!(ext.len(), 2);

        let mut copy = Extensions::new();
        copy.insert(1u32);
        copy.extend(&ext);
        assert_eq!(copy.get::<u32>(), Some(&7));
        assert!(copy.contains::<Principal>());
        assert!(copy.remove::<Principal>());
        assert!(!copy.remove::<Principal>());
        // The original is untouched.
        assert!(ext.contains::<Principal>());
    }
}
