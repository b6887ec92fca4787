//! `sqlx::migrate!` embeds `../migrations` at compile time; without this a migration added on
//! its own (no other source change) would not be seen until something else rebuilt the crate.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
