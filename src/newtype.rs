//! The string newtype macro shared by the SIP layers ([`crate::sip::types`])
//! and the operator side ([`crate::routing::types`]).

/// A `String` newtype with `new`, `as_str` and `Display`. Attributes before
/// the name (docs, extra derives such as serde's) go on the struct.
macro_rules! string_newtype {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value taken from a message, the dialplan or the API,
            /// or generated locally.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The value as written on the wire or in the dialplan.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use string_newtype;
