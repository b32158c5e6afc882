//! Command-line flags of the spec-tests binaries, without a dependency:
//! `--flag value` and `--flag=value`, and switches that take no value.

use std::str::FromStr;

/// Splits `args` into `(flag, value)` pairs; the flags in `switches` take no
/// value (theirs is `None`), every other flag takes the next argument or its
/// `=value`.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    switches: &[&str],
) -> Result<Vec<(String, Option<String>)>, String> {
    let mut args = args.into_iter();
    let mut pairs = Vec::new();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        if !flag.starts_with('-') {
            return Err(format!("unexpected argument {flag:?}"));
        }
        let value = match (switches.contains(&flag.as_str()), inline) {
            (true, None) => None,
            (true, Some(_)) => return Err(format!("{flag} takes no value")),
            (false, Some(value)) => Some(value),
            (false, None) => Some(args.next().ok_or_else(|| format!("{flag} needs a value"))?),
        };
        pairs.push((flag, value));
    }
    Ok(pairs)
}

/// `value` as a number for `flag`, or a message saying what was wrong.
pub fn number<T: FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn both_spellings_and_switches() {
        let pairs = parse(args(&["--port", "1", "--host=h", "--grpc"]), &["--grpc"]).unwrap();
        assert_eq!(
            pairs,
            [
                ("--port".to_owned(), Some("1".to_owned())),
                ("--host".to_owned(), Some("h".to_owned())),
                ("--grpc".to_owned(), None),
            ]
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            parse(args(&["--port"]), &[]).unwrap_err(),
            "--port needs a value"
        );
        assert_eq!(
            parse(args(&["--grpc=1"]), &["--grpc"]).unwrap_err(),
            "--grpc takes no value"
        );
        assert_eq!(
            parse(args(&["x"]), &[]).unwrap_err(),
            "unexpected argument \"x\""
        );
        assert_eq!(
            number::<u16>("--port", "z").unwrap_err(),
            "--port takes a number, not \"z\""
        );
    }
}
