//! `l2tpd`: the L2TP daemon. Filled in by issue 6.

fn main() {
    eprintln!("l2tpd: not built yet (issue 6)");
    std::process::exit(2);
}
