//! Which LNS a subscriber's call goes to: the realm of its user name (what follows the last
//! `@`) looked up in the configured realm table, else the default LNS. Realms compare
//! without regard to ASCII case.

use std::net::SocketAddr;

/// Realm → LNS, and the LNS for everyone else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealmTable {
    /// `(realm, LNS)`, first match wins.
    pub realms: Vec<(String, SocketAddr)>,
    /// The LNS of users whose realm is not in the table (or who have none).
    pub default: Option<SocketAddr>,
}

impl RealmTable {
    /// The LNS for `user`, if any.
    pub fn choose(&self, user: &str) -> Option<SocketAddr> {
        let realm = user.rsplit_once('@').map(|(_, r)| r);
        realm
            .and_then(|r| {
                self.realms
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(r))
                    .map(|(_, lns)| *lns)
            })
            .or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_picks_its_lns_and_the_rest_go_to_the_default() {
        let a: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        let b: SocketAddr = "198.51.100.7:1701".parse().unwrap();
        let t = RealmTable {
            realms: vec![("isp.example".into(), b)],
            default: Some(a),
        };
        assert_eq!(t.choose("alice@isp.example"), Some(b));
        assert_eq!(t.choose("alice@ISP.Example"), Some(b));
        assert_eq!(t.choose("bob@other.example"), Some(a));
        assert_eq!(t.choose("carol"), Some(a));
        let no_default = RealmTable { default: None, ..t };
        assert_eq!(no_default.choose("bob@other.example"), None);
    }
}
