//! Text kept in [`Bytes`]: a received header value or a static string, shared
//! instead of copied into a `String`.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// UTF-8 text in [`Bytes`]. A request's `:path` is a slice of the header block
/// it arrived in (or of the HPACK table), so routing it allocates nothing;
/// `&'static str` paths go out the same way.
///
/// It dereferences to `str` and compares with `str`, `&str` and `String`.
///
/// ```
/// # use grpc_sansio::grpc::ByteStr;
/// let path = ByteStr::from_static("/pkg.Svc/Method");
/// assert_eq!(path, "/pkg.Svc/Method");
/// assert_eq!(path.split_once('/'), Some(("", "pkg.Svc/Method")));
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Text from a static string, without copying.
    pub const fn from_static(text: &'static str) -> Self {
        ByteStr(Bytes::from_static(text.as_bytes()))
    }

    /// The octets as text, if they are UTF-8; never copied.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(ByteStr(bytes))
    }

    /// The octets as text, each invalid sequence replaced by U+FFFD (as
    /// [`String::from_utf8_lossy`]); copied only when there is one.
    pub fn from_utf8_lossy(bytes: &Bytes) -> Self {
        match String::from_utf8_lossy(bytes) {
            Cow::Borrowed(_) => ByteStr(bytes.clone()),
            Cow::Owned(text) => ByteStr::from(text),
        }
    }

    /// Octets the caller has checked are UTF-8.
    pub(crate) fn from_checked(bytes: Bytes) -> Self {
        debug_assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "{bytes:?} is not UTF-8"
        );
        ByteStr(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor checked the octets, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The octets, shared.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The octets.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for ByteStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ByteStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for ByteStr {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

/// Takes the string's buffer, without copying.
impl From<String> for ByteStr {
    fn from(text: String) -> Self {
        ByteStr(Bytes::from(text))
    }
}

/// Copies the text; [`ByteStr::from_static`] does not.
impl From<&str> for ByteStr {
    fn from(text: &str) -> Self {
        ByteStr(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<&String> for ByteStr {
    fn from(text: &String) -> Self {
        ByteStr::from(text.as_str())
    }
}

impl From<ByteStr> for String {
    fn from(text: ByteStr) -> Self {
        text.as_str().to_owned()
    }
}

impl From<ByteStr> for Bytes {
    fn from(text: ByteStr) -> Self {
        text.0
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<String> for ByteStr {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<ByteStr> for str {
    fn eq(&self, other: &ByteStr) -> bool {
        other == self
    }
}

impl PartialEq<ByteStr> for &str {
    fn eq(&self, other: &ByteStr) -> bool {
        other == *self
    }
}

impl PartialEq<ByteStr> for String {
    fn eq(&self, other: &ByteStr) -> bool {
        other == self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_valid_text_and_checks_the_rest() {
        let block = Bytes::from_static(b"xx/a.B/C");
        let path = ByteStr::from_utf8(block.slice(2..)).unwrap();
        assert_eq!(path, "/a.B/C");
        assert_eq!(path.as_bytes().as_ptr(), block[2..].as_ptr());
        assert!(ByteStr::from_utf8(Bytes::from_static(b"\xff")).is_err());
        let lossy = ByteStr::from_utf8_lossy(&Bytes::from_static(b"a\xffb"));
        assert_eq!(lossy, "a\u{FFFD}b");
        let valid = Bytes::from_static(b"application/grpc");
        let kept = ByteStr::from_utf8_lossy(&valid);
        assert_eq!(kept.as_bytes().as_ptr(), valid.as_ptr());
    }

    #[test]
    fn compares_and_converts_like_a_string() {
        let text = ByteStr::from("/a.B/C");
        assert_eq!(text, ByteStr::from_static("/a.B/C"));
        assert_eq!("/a.B/C", text);
        assert_eq!(text, String::from("/a.B/C"));
        assert_eq!(String::from(text.clone()), "/a.B/C");
        assert_eq!(format!("{text} {text:?}"), "/a.B/C \"/a.B/C\"");
        assert_eq!(text.len(), 6);
        assert_eq!(ByteStr::default(), "");
    }
}
