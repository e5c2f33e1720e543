//! Words and text helpers every other module may use; this module uses
//! nothing of the crate (a leaf: `output`, `probe` and `pki` all depend on
//! it, so none of them needs another for a spelling or an escape).

pub mod expiry;
mod style;

pub use style::Style;

/// Text from files, bundles or daemons made safe for a terminal: control
/// characters (ESC sequences, CR, newlines) and the bidi controls that
/// reorder what is shown (U+202E…) are shown escaped, never sent.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `sanitize` for a block of lines: the newlines stay.
pub fn sanitize_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| sanitize(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A Prometheus label value escaped per the exposition format (`\\`, `\"`, `\n`).
pub fn prometheus_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// An enum of plain variants, each with one spelling used by serde,
/// `as_str`, `Display` and `parse` (tables, JSON, Prometheus labels and
/// the README are held to it): a second spelling cannot drift.
/// `VARIANTS` lists every variant in declaration order. A small macro
/// rather than strum: serde, `as_str` and `parse` from one list is all it
/// needs to do, and strum is not built here.
// Its users (probe, targets) are runtime-only.
#[cfg_attr(not(feature = "runtime"), allow(unused_macros))]
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$doc:meta])* $v:ident => $s:literal,)*
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$doc])* $v,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$v,)*];

            /// The one spelling of each variant.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)*
                }
            }

            /// The variant spelled `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$v),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&s, &[$($s,)*])
                })
            }
        }
    };
}
#[cfg_attr(not(feature = "runtime"), allow(unused_imports))]
pub(crate) use words;

/// For each variant: serde writes `as_str`'s spelling, reads it back, and
/// no two variants share one (tests of every `words!` enum).
#[cfg(test)]
pub(crate) fn assert_one_spelling<T>(variants: &[T], as_str: fn(T) -> &'static str)
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + PartialEq + Copy,
{
    let mut seen = std::collections::HashSet::new();
    for v in variants {
        let json = serde_json::to_value(v).unwrap();
        assert_eq!(json, as_str(*v), "{v:?}: serde and as_str disagree");
        assert_eq!(serde_json::from_value::<T>(json).unwrap(), *v);
        assert!(
            seen.insert(as_str(*v)),
            "{v:?}: spelling {} twice",
            as_str(*v)
        );
    }
}

#[cfg(test)]
mod tests {
    words! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Probe {
            One => "one",
            TwoWords => "two-words",
        }
    }

    #[test]
    fn serde_parse_and_display_use_the_one_spelling() {
        super::assert_one_spelling(Probe::VARIANTS, Probe::as_str);
        assert_eq!(serde_json::to_value(Probe::TwoWords).unwrap(), "two-words");
        assert_eq!(Probe::TwoWords.to_string(), "two-words");
        assert_eq!(Probe::parse("two-words"), Some(Probe::TwoWords));
        assert_eq!(Probe::parse("TwoWords"), None);
        let err = serde_json::from_str::<Probe>("\"three\"").unwrap_err();
        assert!(
            err.to_string().contains("expected `one` or `two-words`"),
            "{err}"
        );
    }
}
