//! The SCAIP XML reader: a `<mrq>` or `<mrs>` body to its tags, in order.
//!
//! SCAIP bodies are tiny and flat (`<mrq><ref>…</ref><cid>…</cid>…</mrq>`,
//! one level deeper for `lge`). The reader is strict about what could hurt
//! the node and lenient about what devices get wrong:
//!
//! - refused: a `<!DOCTYPE` of any kind (so no DTD, no entity declarations,
//!   no external entities, no "billion laughs"), an entity reference other
//!   than the five predefined ones and character references, a body over
//!   [`MAX_BODY`] bytes, nesting deeper than [`MAX_DEPTH`], more than
//!   [`MAX_ELEMENTS`] elements, text over [`MAX_TEXT`] bytes, bytes that are
//!   not UTF-8, anything not well-formed, a root other than the one asked;
//! - accepted: an XML declaration or none, comments, whitespace around
//!   tags, attributes (ignored), CDATA as text, tags in any order.
//!
//! Nested tags come out as `parent/child` (`lge/geo`). quick-xml does the
//! tokenising; it expands nothing itself (references arrive as their own
//! events, resolved here against the predefined five only).

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

/// The largest body read (a real `<mrq>` is under 400 bytes).
pub const MAX_BODY: usize = 8 * 1024;
/// The deepest nesting, the root counting 1 (`mrq/lge/geo` is 3).
pub const MAX_DEPTH: usize = 4;
/// The most elements in one body, the root included.
pub const MAX_ELEMENTS: usize = 128;
/// The longest text of one tag.
pub const MAX_TEXT: usize = 1024;

/// Why a body was refused (every case is an answer to the unit, not a fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Over [`MAX_BODY`].
    #[error("body of {len} bytes, over {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not UTF-8.
    #[error("body is not UTF-8")]
    NotUtf8,
    /// A document type declaration (DTD, entities): never processed.
    #[error("DOCTYPE refused")]
    Doctype,
    /// An entity other than the five predefined ones.
    #[error("entity &{0}; refused")]
    Entity(String),
    /// A processing instruction other than the XML declaration.
    #[error("processing instruction refused")]
    ProcessingInstruction,
    /// Over [`MAX_DEPTH`].
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// Over [`MAX_ELEMENTS`] or [`MAX_TEXT`].
    #[error("more than {0} elements or characters")]
    TooMany(usize),
    /// The root element is not the one expected.
    #[error("root <{found}>, expected <{expected}>")]
    WrongRoot {
        /// What came.
        found: String,
        /// What was asked for.
        expected: &'static str,
    },
    /// No root element at all.
    #[error("no element")]
    Empty,
    /// Not well-formed (quick-xml's reason, or text outside the root).
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// One tag and its text (trimmed), `parent/child` for nested tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The tag path below the root (`ref`, `lge/geo`).
    pub tag: String,
    /// Its text, references resolved, surrounding whitespace trimmed.
    pub text: String,
}

/// Reads `body` whose root must be `root`; returns its tags in document order.
pub fn read(body: &[u8], root: &'static str) -> Result<Vec<Field>, XmlError> {
    if body.len() > MAX_BODY {
        return Err(XmlError::TooLarge {
            len: body.len(),
            max: MAX_BODY,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let mut state = State::new(root);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return state.finish(),
            Ok(event) => state.on_event(event)?,
            Err(err) => return Err(XmlError::Malformed(err.to_string())),
        }
    }
}

/// The walk through the events.
struct State {
    root: &'static str,
    /// Open elements below the root (the root itself is `seen_root`).
    path: Vec<String>,
    open_root: bool,
    seen_root: bool,
    elements: usize,
    text: String,
    fields: Vec<Field>,
}

impl State {
    fn new(root: &'static str) -> Self {
        Self {
            root,
            path: Vec::new(),
            open_root: false,
            seen_root: false,
            elements: 0,
            text: String::new(),
            fields: Vec::new(),
        }
    }

    fn on_event(&mut self, event: Event<'_>) -> Result<(), XmlError> {
        match event {
            Event::Start(start) => self.open(start.name().as_ref()),
            Event::Empty(start) => {
                self.open(start.name().as_ref())?;
                self.close()
            }
            Event::End(_) => self.close(),
            Event::Text(t) => self.push_text(&t),
            Event::CData(c) => self.push_text(&c),
            Event::GeneralRef(r) => self.push_reference(&r, r.is_char_ref(), r.resolve_char_ref()),
            Event::DocType(_) => Err(XmlError::Doctype),
            Event::PI(_) => Err(XmlError::ProcessingInstruction),
            Event::Decl(_) | Event::Comment(_) | Event::Eof => Ok(()),
        }
    }

    fn open(&mut self, name: &str) -> Result<(), XmlError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(XmlError::TooMany(MAX_ELEMENTS));
        }
        if !self.open_root {
            if self.seen_root {
                return Err(XmlError::Malformed("a second root element".into()));
            }
            if name != self.root {
                return Err(XmlError::WrongRoot {
                    found: name.chars().take(32).collect(),
                    expected: self.root,
                });
            }
            self.open_root = true;
            self.seen_root = true;
            return Ok(());
        }
        if self.path.len() + 2 > MAX_DEPTH {
            return Err(XmlError::TooDeep(MAX_DEPTH));
        }
        self.path.push(name.to_owned());
        self.text.clear();
        Ok(())
    }

    fn close(&mut self) -> Result<(), XmlError> {
        if self.path.is_empty() {
            self.open_root = false;
            return Ok(());
        }
        let tag = self.path.join("/");
        self.path.pop();
        let text = std::mem::take(&mut self.text).trim().to_owned();
        self.fields.push(Field { tag, text });
        Ok(())
    }

    fn push_text(&mut self, text: &str) -> Result<(), XmlError> {
        if !self.open_root {
            // Only whitespace may stand outside the root.
            return match text.trim().is_empty() {
                true => Ok(()),
                false => Err(XmlError::Malformed("text outside the root".into())),
            };
        }
        if self.text.len() + text.len() > MAX_TEXT {
            return Err(XmlError::TooMany(MAX_TEXT));
        }
        self.text.push_str(text);
        Ok(())
    }

    fn push_reference(
        &mut self,
        name: &str,
        is_char: bool,
        resolved: Result<Option<char>, quick_xml::Error>,
    ) -> Result<(), XmlError> {
        let refused = || XmlError::Entity(name.chars().take(32).collect());
        if is_char {
            let c = resolved.ok().flatten().ok_or_else(refused)?;
            return self.push_text(c.encode_utf8(&mut [0; 4]));
        }
        let text = resolve_predefined_entity(name).ok_or_else(refused)?;
        self.push_text(text)
    }

    fn finish(self) -> Result<Vec<Field>, XmlError> {
        match (self.seen_root, self.open_root) {
            (false, _) => Err(XmlError::Empty),
            (true, true) => Err(XmlError::Malformed("unclosed root".into())),
            (true, false) => Ok(self.fields),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(body: &str) -> Vec<(String, String)> {
        read(body.as_bytes(), "mrq")
            .unwrap()
            .into_iter()
            .map(|f| (f.tag, f.text))
            .collect()
    }

    #[test]
    fn a_real_sample_reads_in_order() {
        let got =
            tags("<mrq><mty>PI</mty><ref>1998218577</ref><cid>10149471</cid><dty>2</dty></mrq>");
        let want = [
            ("mty", "PI"),
            ("ref", "1998218577"),
            ("cid", "10149471"),
            ("dty", "2"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn declaration_whitespace_comments_cdata_and_entities() {
        let body = "<?xml version=\"1.0\"?>\n<mrq a=\"1\">\n <!-- c --> <ref> 1 </ref>\
                    <dte>a&amp;b&#65;<![CDATA[<x>]]></dte><lge><geo>1,2</geo></lge><crd/></mrq>\n";
        let got = tags(body);
        assert_eq!(got[0], ("ref".into(), "1".into()));
        assert_eq!(got[1], ("dte".into(), "a&bA<x>".into()));
        assert_eq!(got[2], ("lge/geo".into(), "1,2".into()));
        assert_eq!(got[3], ("lge".into(), "".into()));
        assert_eq!(got[4], ("crd".into(), "".into()));
    }

    #[test]
    fn doctype_and_billion_laughs_are_refused() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
            <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\
            <mrq><ref>&lol2;</ref></mrq>";
        assert_eq!(read(laughs.as_bytes(), "mrq"), Err(XmlError::Doctype));
        let xxe =
            "<!DOCTYPE mrq [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><mrq><ref>&x;</ref></mrq>";
        assert_eq!(read(xxe.as_bytes(), "mrq"), Err(XmlError::Doctype));
    }

    #[test]
    fn undeclared_entities_are_refused_not_expanded() {
        let body = "<mrq><ref>&x;</ref></mrq>";
        assert_eq!(
            read(body.as_bytes(), "mrq"),
            Err(XmlError::Entity("x".into()))
        );
        let body = "<mrq><ref>&#0;</ref></mrq>";
        assert!(matches!(
            read(body.as_bytes(), "mrq"),
            Err(XmlError::Entity(_))
        ));
    }

    #[test]
    fn limits_hold() {
        let big = format!("<mrq><dte>{}</dte></mrq>", "a".repeat(MAX_BODY));
        assert!(matches!(
            read(big.as_bytes(), "mrq"),
            Err(XmlError::TooLarge { .. })
        ));
        let deep = "<mrq><a><b><c><d>1</d></c></b></a></mrq>";
        assert_eq!(
            read(deep.as_bytes(), "mrq"),
            Err(XmlError::TooDeep(MAX_DEPTH))
        );
        let many = format!("<mrq>{}</mrq>", "<a/>".repeat(MAX_ELEMENTS));
        assert_eq!(
            read(many.as_bytes(), "mrq"),
            Err(XmlError::TooMany(MAX_ELEMENTS))
        );
        let long = format!("<mrq><dte>{}</dte></mrq>", "a".repeat(MAX_TEXT + 1));
        assert_eq!(
            read(long.as_bytes(), "mrq"),
            Err(XmlError::TooMany(MAX_TEXT))
        );
    }

    #[test]
    fn malformed_and_wrong_roots_are_refused() {
        for body in [
            "<mrq><ref>1</cid></mrq>",
            "<mrq><ref>1</ref>",
            "<mrq></mrq><mrq></mrq>",
            "junk<mrq></mrq>",
            "<mrq><?pi x?></mrq>",
        ] {
            assert!(read(body.as_bytes(), "mrq").is_err(), "{body}");
        }
        assert_eq!(read(b"", "mrq"), Err(XmlError::Empty));
        assert_eq!(read(&[0xff, 0xfe], "mrq"), Err(XmlError::NotUtf8));
        assert!(matches!(
            read(b"<scaip><ref>1</ref></scaip>", "mrq"),
            Err(XmlError::WrongRoot { .. })
        ));
    }
}
