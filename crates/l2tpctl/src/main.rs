//! `l2tpctl`: operator CLI. Filled in by issues 2 and 6.

fn main() {
    eprintln!("l2tpctl: not built yet");
    std::process::exit(2);
}
