//! Prints what a `pair` or `seal_open` input decodes to (the operations of
//! a crash input, say):
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example show_input -- pair fuzz/artifacts/pair/crash-...
//! ```

use arbitrary::{Arbitrary, Unstructured};
use securex_fuzz::{pair, seal_open};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(path)) = (args.next(), args.next()) else {
        eprintln!("usage: show_input pair|seal_open FILE");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&path).expect("readable input");
    let u = Unstructured::new(&bytes);
    match target.as_str() {
        "pair" => println!("{:#?}", pair::Input::arbitrary_take_rest(u)),
        "seal_open" => println!("{:#?}", seal_open::Input::arbitrary_take_rest(u)),
        other => {
            eprintln!("no structured input for {other}");
            std::process::exit(2);
        }
    }
}
