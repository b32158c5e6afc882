//! Proto comments as rustdoc: safe Markdown that renders as written and
//! compiles without doc-test or lint surprises.

use prost_build::Comments;

/// Lines of Markdown for `comments`: the leading comment, then the trailing
/// one after a blank line. Detached comments are left out.
pub(crate) fn comment_lines(comments: &Comments) -> Vec<String> {
    let mut raw: Vec<&str> = comments.leading.iter().map(String::as_str).collect();
    if !comments.leading.is_empty() && !comments.trailing.is_empty() {
        raw.push("");
    }
    raw.extend(comments.trailing.iter().map(String::as_str));
    sanitize(&raw)
}

/// Makes proto comment lines safe for rustdoc:
///
/// - the one space after `//` is dropped, tabs become spaces;
/// - fenced blocks without a language become `text` (never doc-tests);
/// - outside lists, indentation is capped at three spaces (four would start
///   an indented code block, which rustdoc would compile as a doc-test);
/// - lines continuing a list item are indented to the item's text (no lazy
///   continuation);
/// - outside code, `[`, `]` and `<` are escaped and bare URLs wrapped in
///   `<…>`, so nothing becomes a broken link or an HTML tag.
///
/// Leading and trailing blank lines are dropped.
pub(crate) fn sanitize(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    let mut fence: Option<String> = None;
    let mut list_indent: Option<usize> = None;
    for raw in lines {
        let line = raw.replace('\t', "    ");
        let line = line.strip_prefix(' ').unwrap_or(&line).trim_end();
        let content = line.trim_start();
        let indent = line.len() - content.len();

        if let Some(marker) = &fence {
            if content.starts_with(marker.as_str()) && content.trim_start_matches('`').is_empty() {
                fence = None;
                out.push(format!("{}{content}", " ".repeat(indent.min(3))));
            } else {
                out.push(line.to_owned());
            }
            continue;
        }
        if content.starts_with("```") {
            let ticks = content.len() - content.trim_start_matches('`').len();
            let info = content[ticks..].trim();
            let marker = "`".repeat(ticks);
            let info = if info.is_empty() { "text" } else { info };
            fence = Some(marker.clone());
            out.push(format!("{}{marker}{info}", " ".repeat(indent.min(3))));
            continue;
        }
        if content.is_empty() {
            list_indent = None;
            out.push(String::new());
            continue;
        }
        let text = escape(content);
        if let Some(width) = list_item_width(content) {
            let indent = match list_indent {
                Some(outer) if indent >= outer => outer + (indent - outer).min(3),
                _ => indent.min(3),
            };
            list_indent = Some(indent + width);
            out.push(format!("{}{text}", " ".repeat(indent)));
        } else if let Some(width) = list_indent {
            out.push(format!("{}{text}", " ".repeat(width)));
        } else {
            out.push(format!("{}{text}", " ".repeat(indent.min(3))));
        }
    }
    if let Some(marker) = fence {
        out.push(marker);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let first = out.iter().position(|l| !l.is_empty()).unwrap_or(out.len());
    out.drain(..first);
    out
}

/// The width of a list marker and its space (`- `, `* `, `+ `, `1. `, `2) `).
fn list_item_width(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    if bytes.len() >= 2 && matches!(bytes[0], b'-' | b'*' | b'+') && bytes[1] == b' ' {
        return Some(2);
    }
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if (1..=9).contains(&digits)
        && bytes.len() > digits + 1
        && matches!(bytes[digits], b'.' | b')')
        && bytes[digits + 1] == b' '
    {
        return Some(digits + 2);
    }
    None
}

/// Escapes a line outside fenced code: inline code spans stay as written.
fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut in_code = false;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            in_code = !in_code;
            out.push(c);
            rest = &rest[1..];
            continue;
        }
        if !in_code {
            let at_word_start = out.is_empty() || out.ends_with([' ', '(']);
            if at_word_start && (rest.starts_with("http://") || rest.starts_with("https://")) {
                let end = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, ')' | '>' | '"' | '`'))
                    .unwrap_or(rest.len());
                let url = rest[..end].trim_end_matches(['.', ',', ';', ':']);
                out.push('<');
                out.push_str(url);
                out.push('>');
                rest = &rest[url.len()..];
                continue;
            }
            match c {
                '[' | ']' if !out.ends_with('\\') => {
                    out.push('\\');
                    out.push(c);
                }
                '<' => out.push_str("&lt;"),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Appends `///` lines at `indent` levels of four spaces.
pub(crate) fn write_doc(out: &mut String, indent: usize, lines: &[String]) {
    for line in lines {
        out.push_str(&"    ".repeat(indent));
        if line.is_empty() {
            out.push_str("///\n");
        } else {
            out.push_str("/// ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// The doc lines of an item: its proto comment (or `summary` when it has
/// none), then a blank line and `extra`.
pub(crate) fn item_doc(comments: &Comments, summary: &str, extra: &[String]) -> Vec<String> {
    let mut lines = comment_lines(comments);
    if lines.is_empty() {
        lines.push(summary.to_owned());
    }
    if !extra.is_empty() {
        lines.push(String::new());
        lines.extend(extra.iter().cloned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(lines: &[&str]) -> Vec<String> {
        sanitize(lines)
    }

    #[test]
    fn plain_comments_lose_the_leading_space() {
        assert_eq!(
            s(&[" Returns the user.", "", " Or NOT_FOUND."]),
            ["Returns the user.", "", "Or NOT_FOUND."]
        );
    }

    #[test]
    fn blank_edges_are_trimmed() {
        assert_eq!(s(&["", " a", "", ""]), ["a"]);
        assert!(s(&["", " "]).is_empty());
    }

    #[test]
    fn indented_blocks_never_become_doc_tests() {
        assert_eq!(
            s(&[" Example:", "", "     let x = 1;"]),
            ["Example:", "", "   let x = 1;"]
        );
    }

    #[test]
    fn fences_get_a_language_and_keep_their_content() {
        assert_eq!(
            s(&[
                " ```",
                "     fn main() {}",
                " ```",
                " ```json",
                " {\"a\": [1]}",
                " ```"
            ]),
            [
                "```text",
                "    fn main() {}",
                "```",
                "```json",
                "{\"a\": [1]}",
                "```"
            ]
        );
        // An unclosed fence is closed.
        assert_eq!(s(&[" ```", " x"]), ["```text", "x", "```"]);
    }

    #[test]
    fn list_continuations_are_indented() {
        assert_eq!(
            s(&[
                " Kinds:",
                " - one",
                " continued",
                "     over-indented",
                " 10. ten",
                " more",
                "",
                " after"
            ]),
            [
                "Kinds:",
                "- one",
                "  continued",
                "  over-indented",
                "10. ten",
                "    more",
                "",
                "after"
            ]
        );
    }

    #[test]
    fn links_html_and_urls_are_escaped_outside_code() {
        assert_eq!(
            s(&[" See [RFC 9113] and https://grpc.io/docs. A map<string, int32> `x[0] <y>`."]),
            ["See \\[RFC 9113\\] and <https://grpc.io/docs>. A map&lt;string, int32> `x[0] <y>`."]
        );
        assert_eq!(s(&[" already \\[escaped\\]"]), ["already \\[escaped\\]"]);
        assert_eq!(s(&[" (http://a.b/c)"]), ["(<http://a.b/c>)"]);
    }

    #[test]
    fn item_doc_falls_back_to_the_summary() {
        let none = Comments {
            leading_detached: vec![],
            leading: vec![],
            trailing: vec![],
        };
        assert_eq!(
            item_doc(&none, "Summary.", &["More.".into()]),
            ["Summary.", "", "More."]
        );
        let both = Comments {
            leading_detached: vec![vec![" detached".into()]],
            leading: vec![" Lead.".into()],
            trailing: vec![" Trail.".into()],
        };
        assert_eq!(item_doc(&both, "Summary.", &[]), ["Lead.", "", "Trail."]);
    }
}
