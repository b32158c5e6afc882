//! A small command-line parser for the benchmark programs: `--flag value`,
//! `--flag=value` and bare `--switch`.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed flags; each getter removes what it read, so that
/// [`finish`](Args::finish) can refuse flags nobody asked for.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, Option<String>>,
    positional: Vec<String>,
}

impl Args {
    /// Parses `args` (without the program name). `switches` take no value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        switches: &[&str],
    ) -> Result<Args, String> {
        let mut out = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                out.positional.push(arg);
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None if switches.contains(&flag) => (flag.to_owned(), None),
                None => {
                    let value = args.next().ok_or(format!("--{flag} needs a value"))?;
                    (flag.to_owned(), Some(value))
                }
            };
            out.values.insert(name, value);
        }
        Ok(out)
    }

    /// Parses the process's arguments.
    pub fn from_env(switches: &[&str]) -> Result<Args, String> {
        Args::parse(std::env::args().skip(1), switches)
    }

    /// Whether `--name` was given.
    pub fn switch(&mut self, name: &str) -> bool {
        self.values.remove(name).is_some()
    }

    /// The value of `--name`, if given.
    pub fn string(&mut self, name: &str) -> Option<String> {
        self.values.remove(name).flatten()
    }

    /// The value of `--name` parsed, or `default`.
    pub fn get<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
        match self.string(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: bad value {v:?}")),
        }
    }

    /// The value of `--name` parsed; an error when missing.
    pub fn required<T: FromStr>(&mut self, name: &str) -> Result<T, String> {
        let v = self.string(name).ok_or(format!("--{name} is required"))?;
        v.parse().map_err(|_| format!("--{name}: bad value {v:?}"))
    }

    /// The arguments that are not flags, in order.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// Fails if a flag was given that no getter read.
    pub fn finish(self) -> Result<(), String> {
        match self.values.keys().next() {
            Some(flag) => Err(format!("unknown flag --{flag}")),
            None => Ok(()),
        }
    }
}

/// A duration in seconds, fractions allowed (`0.5`).
pub fn seconds(value: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(value.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str, switches: &[&str]) -> Args {
        Args::parse(line.split_whitespace().map(String::from), switches).unwrap()
    }

    #[test]
    fn values_switches_and_positional() {
        let mut args = parse("unary --conns 16 --quick --size=32 extra", &["quick"]);
        assert_eq!(args.get("conns", 1usize), Ok(16));
        assert_eq!(args.get("size", 0usize), Ok(32));
        assert_eq!(args.get("absent", 7usize), Ok(7));
        assert!(args.switch("quick"));
        assert_eq!(args.positional(), ["unary", "extra"]);
        assert!(args.finish().is_ok());
    }

    #[test]
    fn unread_flags_are_refused() {
        let args = parse("--conns 16", &[]);
        assert_eq!(args.finish(), Err("unknown flag --conns".into()));
    }
}
