//! The `.env` file: found where dotenvy looks (the working directory, then its parents) and
//! loaded by it, but never ignored when it is unreadable or malformed.
//!
//! dotenvy stops at the first bad line and reports only that line's text (or just its value)
//! and an index; silently carrying on would also drop every line after it. So the error names
//! the file, the line number, the whole line and what is wrong with it.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why `.env` could not be loaded; `Display` is the one line the server logs before it exits.
#[derive(Debug, thiserror::Error)]
#[error("cannot load {}: {why}", path.display())]
pub struct DotenvError {
    pub path: PathBuf,
    pub why: String,
}

/// Loads `.env` into the environment (variables already set win); `Ok(None)` without a file.
pub fn load_dotenv() -> Result<Option<PathBuf>, DotenvError> {
    let cwd = std::env::current_dir().map_err(|e| error(Path::new(".env"), e))?;
    let Some(path) = find(&cwd).map_err(|(path, e)| error(&path, e))? else {
        return Ok(None);
    };
    match dotenvy::from_path(&path) {
        Ok(()) => Ok(Some(path)),
        Err(dotenvy::Error::LineParse(text, index)) => {
            let why = match std::fs::read_to_string(&path) {
                Ok(content) => explain(&content, &text, index),
                Err(e) => e.to_string(),
            };
            Err(DotenvError { path, why })
        }
        Err(dotenvy::Error::Io(e)) => Err(error(&path, e)),
        Err(e) => Err(error(&path, e)),
    }
}

fn error(path: &Path, e: impl std::fmt::Display) -> DotenvError {
    DotenvError {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// The first `.env` file in `dir` or its parents, as dotenvy looks for it (a directory named
/// `.env` is passed over); a candidate that exists but cannot be examined is an error.
fn find(dir: &Path) -> Result<Option<PathBuf>, (PathBuf, io::Error)> {
    for dir in dir.ancestors() {
        let candidate = dir.join(".env");
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() => return Ok(Some(candidate)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err((candidate, e)),
        }
    }
    Ok(None)
}

/// `line N "text": reason` for dotenvy's `LineParse(text, index)` on `content`.
fn explain(content: &str, text: &str, index: usize) -> String {
    match first_bad_line(content) {
        Some(n) => {
            let line = content.lines().nth(n - 1).unwrap_or(text);
            format!("line {n} {line:?}: {}", reason(line))
        }
        // The file changed since dotenvy read it: say what dotenvy said.
        None => format!("cannot parse {text:?} (at character {})", index + 1),
    }
}

/// The 1-based number of the line where dotenvy's first parse error in `content` starts.
fn first_bad_line(content: &str) -> Option<usize> {
    let mut reader = OneLineAtATime {
        rest: content.as_bytes(),
        given: 0,
    };
    let failed = dotenvy::from_read_iter(&mut reader).find_map(|item| match item {
        Ok(_) => None,
        Err(dotenvy::Error::LineParse(text, _)) => Some(Some(text)),
        Err(_) => Some(None),
    })??;
    // dotenvy has read exactly up to the end of the entry it failed on (a quoted value may
    // span lines); the text it reports ends there too.
    let read = &content.as_bytes()[..reader.given];
    let last = read.iter().filter(|&&b| b == b'\n').count() + usize::from(!read.ends_with(b"\n"));
    Some(
        last.saturating_sub(failed.trim_end().matches('\n').count())
            .max(1),
    )
}

/// Hands out at most one line per read: dotenvy's `BufReader` reads again only once it has
/// used up what it holds, so `given` always ends where dotenvy's last line ended.
struct OneLineAtATime<'a> {
    rest: &'a [u8],
    given: usize,
}

impl Read for OneLineAtATime<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let line = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.rest.len(), |i| i + 1);
        let n = line.min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        self.given += n;
        Ok(n)
    }
}

/// What is wrong with a line dotenvy refused, in the terms of its grammar.
fn reason(line: &str) -> String {
    let entry = line.trim_start();
    let entry = entry.strip_prefix("export ").map_or(entry, str::trim_start);
    let Some((name, _)) = entry.split_once('=') else {
        return "expected NAME=value".into();
    };
    let name = name.trim_end();
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if valid {
        "the value has an unquoted space, an unclosed quote or an unknown escape \
         (quote a value with spaces: NAME=\"a b\")"
            .into()
    } else {
        format!("{name:?} is not a variable name (letters, digits, _ and ., not starting with a digit)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_line_its_text_and_the_reason() {
        let content = "PORT=18397\nRATE LIMIT=5\nSTORE=foo\n";
        assert_eq!(
            explain(content, "RATE LIMIT=5", 5),
            "line 2 \"RATE LIMIT=5\": \"RATE LIMIT\" is not a variable name \
             (letters, digits, _ and ., not starting with a digit)"
        );
    }

    #[test]
    fn counts_comments_blank_lines_and_quoted_values_that_span_lines() {
        let content = "# c\r\n\nA=\"x\ny\"\n  # d\nB=1 # e\nGREETING=hello world\nC=3\n";
        assert_eq!(first_bad_line(content), Some(7));
        assert_eq!(
            reason("GREETING=hello world"),
            "the value has an unquoted space, an unclosed quote or an unknown escape \
             (quote a value with spaces: NAME=\"a b\")"
        );
        assert_eq!(first_bad_line("A=1\nB='open\nC=2\n"), Some(2));
        assert_eq!(first_bad_line("A=1\njust words\n"), Some(2));
        assert_eq!(reason("just words"), "expected NAME=value");
        assert_eq!(first_bad_line("A=1\nB=2"), None);
    }
}
