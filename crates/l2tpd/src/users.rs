//! The PPP users file of the LNS: who may log in, with which password, at which address.
//!
//! # Format
//! One user per line: `USERNAME PASSWORD [FIXED-IPV4]`, fields separated by spaces or tabs.
//! `#` starts a comment (outside quotes); blank lines are ignored. A field containing spaces
//! or `#` is written in double quotes, where `\"` and `\\` stand for `"` and `\`.
//!
//! ```text
//! # name        password              fixed address (optional)
//! alice         "correct horse"        203.0.113.50
//! bob           s3cret
//! "carol smith" "pa\"ss"
//! ```
//!
//! Passwords are stored in clear because CHAP-MD5 and MS-CHAPv2 need them (RFC 1994 §4,
//! RFC 2759): keep the file mode 0600 (the daemon warns otherwise).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use thiserror::Error;

/// One user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Login name (PAP Peer-ID, CHAP Name).
    pub name: String,
    /// Password (clear text; CHAP needs it).
    pub password: String,
    /// Address always given to this user instead of one from the pool.
    pub ipv4: Option<Ipv4Addr>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("ipv4", &self.ipv4)
            .finish()
    }
}

/// A users file that could not be loaded.
#[derive(Debug, Error)]
pub enum UsersError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file (or `<inline>`).
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two users share a fixed address, or a fixed address is the server's own.
    #[error("fixed address {address}: {message}")]
    FixedAddress {
        /// The address given twice.
        address: Ipv4Addr,
        /// Who has it.
        message: String,
    },
}

/// The set of users, looked up by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    by_name: HashMap<String, User>,
}

impl Users {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads and parses a users file.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the text of a users file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, UsersError> {
        let mut users = Users::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| UsersError::Syntax {
                path: origin.to_string(),
                line: i + 1,
                message,
            };
            let Some(user) = parse_line(line).map_err(err)? else {
                continue;
            };
            let name = user.name.clone();
            if users.insert(user).is_some() {
                return Err(err(format!("user {name:?} is defined twice")));
            }
        }
        Ok(users)
    }

    /// Every line of a users file with its 1-based number: the user it defines, or what is
    /// wrong with it (for `l2tpd check`, which reports every problem at once). Blank and
    /// comment lines are left out.
    pub fn parse_lines(text: &str) -> Vec<(usize, Result<User, String>)> {
        text.lines()
            .enumerate()
            .filter_map(|(i, line)| parse_line(line).transpose().map(|r| (i + 1, r)))
            .collect()
    }

    /// Adds or replaces a user; returns the previous entry of that name.
    pub fn insert(&mut self, user: User) -> Option<User> {
        self.by_name.insert(user.name.clone(), user)
    }

    /// The user called `name` (exact, case-sensitive match).
    pub fn get(&self, name: &str) -> Option<&User> {
        self.by_name.get(name)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// All users, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.by_name.values()
    }

    /// The users' fixed addresses.
    pub fn fixed_addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.by_name.values().filter_map(|u| u.ipv4)
    }

    /// Refuses a fixed address given to two users, or equal to the server's own address
    /// (`local`): either would hand one address to two hosts.
    pub fn check_fixed_addresses(&self, local: Ipv4Addr) -> Result<(), UsersError> {
        let mut owners: HashMap<Ipv4Addr, Vec<&str>> = HashMap::new();
        for u in self.by_name.values() {
            if let Some(a) = u.ipv4 {
                owners.entry(a).or_default().push(&u.name);
            }
        }
        let mut clashes: Vec<(Ipv4Addr, Vec<&str>)> = owners
            .into_iter()
            .filter(|(a, names)| names.len() > 1 || *a == local)
            .collect();
        clashes.sort();
        match clashes.into_iter().next() {
            None => Ok(()),
            Some((address, mut names)) => {
                names.sort();
                let message = if address == local {
                    format!(
                        "given to {} but it is the server's own address (lns.local_ipv4)",
                        names.join(", ")
                    )
                } else {
                    format!("given to several users: {}", names.join(", "))
                };
                Err(UsersError::FixedAddress { address, message })
            }
        }
    }
}

/// One line of a users file: a user, nothing (blank, comment), or what is wrong.
fn parse_line(line: &str) -> Result<Option<User>, String> {
    let fields = tokenize(line).map_err(str::to_string)?;
    match fields.len() {
        0 => return Ok(None),
        1 => return Err(format!("user {:?} has no password", fields[0])),
        2 | 3 => {}
        n => return Err(format!("expected NAME PASSWORD [IPV4], got {n} fields")),
    }
    let ipv4 = match fields.get(2) {
        None => None,
        Some(s) => Some(
            s.parse::<Ipv4Addr>()
                .map_err(|_| format!("{s:?} is not an IPv4 address"))?,
        ),
    };
    let mut it = fields.into_iter();
    let (Some(name), Some(password)) = (it.next(), it.next()) else {
        return Ok(None);
    };
    if name.is_empty() {
        return Err("empty user name".into());
    }
    Ok(Some(User {
        name,
        password,
        ipv4,
    }))
}

/// Splits a line into fields, honouring quotes and comments.
fn tokenize(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => return Ok(fields),
            Some('"') => {
                chars.next();
                let mut f = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted field"),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => f.push(c),
                            _ => return Err("only \\\" and \\\\ may follow a backslash in quotes"),
                        },
                        Some(c) => f.push(c),
                    }
                }
                if chars
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && *c != '#')
                {
                    return Err("a quoted field must be followed by a space");
                }
                fields.push(f);
            }
            Some(_) => {
                let mut f = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '#' {
                        break;
                    }
                    if c == '"' {
                        return Err("quote in the middle of a field (quote the whole field)");
                    }
                    f.push(c);
                    chars.next();
                }
                fields.push(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_passwords_addresses_quotes_and_comments() {
        let text = r#"
# the users
alice   "correct horse"   203.0.113.50   # fixed
bob     s3cret
"carol smith" "pa\"ss\\"
	dave	x#not-a-comment-char-here
"#;
        let u = Users::parse(text, "users").unwrap();
        assert_eq!(u.len(), 4);
        let a = u.get("alice").unwrap();
        assert_eq!(a.password, "correct horse");
        assert_eq!(a.ipv4, Some(Ipv4Addr::new(203, 0, 113, 50)));
        assert_eq!(u.get("bob").unwrap().ipv4, None);
        assert_eq!(u.get("carol smith").unwrap().password, "pa\"ss\\");
        assert_eq!(u.get("dave").unwrap().password, "x", "# starts a comment");
        assert!(u.get("Alice").is_none(), "names are case-sensitive");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("alice\n", 1, "no password"),
            ("# c\nbob pw 10.0.0.300\n", 2, "not an IPv4"),
            ("a b c d\n", 1, "4 fields"),
            ("a b\n\na c\n", 3, "defined twice"),
            ("\"a b\n", 1, "unterminated"),
            ("a\"b c\n", 1, "quote in the middle"),
            ("\"\" pw\n", 1, "empty user name"),
        ];
        for (text, line, what) in cases {
            let e = Users::parse(text, "f").unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("f:{line}: ")), "{msg}");
            assert!(msg.contains(what), "{msg} should mention {what}");
        }
    }

    /// Writes a field the way the format documents it: quoted, `"` and `\` escaped.
    fn quote(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,200}") {
            let _ = Users::parse(&text, "f");
        }

        #[test]
        fn quoted_fields_round_trip(name in "[^\\x00-\\x1f\n]{1,20}", pw in "[^\\x00-\\x1f\n]{1,30}") {
            let line = format!("{} {}   # comment\n", quote(&name), quote(&pw));
            let u = Users::parse(&line, "f").unwrap();
            let got = u.get(&name).unwrap();
            proptest::prop_assert_eq!(&got.password, &pw);
        }
    }

    #[test]
    fn debug_output_hides_passwords() {
        let u = Users::parse("alice topsecret\n", "f").unwrap();
        let dbg = format!("{u:?}");
        assert!(!dbg.contains("topsecret"), "{dbg}");
    }

    #[test]
    fn a_fixed_address_belongs_to_one_user_and_never_to_the_server() {
        let users = Users::parse(
            "alice pw-a 203.0.113.50\nbob pw-b 203.0.113.50\ncarol pw-c 203.0.113.51\n",
            "users",
        )
        .unwrap();
        let e = users
            .check_fixed_addresses(Ipv4Addr::new(198, 51, 100, 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("203.0.113.50") && e.contains("alice, bob"),
            "{e}"
        );
        let users = Users::parse("alice pw-a 198.51.100.1\n", "users").unwrap();
        let e = users
            .check_fixed_addresses(Ipv4Addr::new(198, 51, 100, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("server's own address"), "{e}");
        let users = Users::parse("alice pw-a 203.0.113.50\nbob pw-b\n", "users").unwrap();
        assert!(users
            .check_fixed_addresses(Ipv4Addr::new(198, 51, 100, 1))
            .is_ok());
    }
}
