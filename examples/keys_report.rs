//! Prints what `keys::load` makes of the given paths (the summary only: never key bytes).
use std::path::PathBuf;

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    match ike_sniff::keys::load(&paths) {
        Ok(l) => println!("{}", l.report),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
