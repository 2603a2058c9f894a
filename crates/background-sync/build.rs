//! Registers the Kotlin (android/) and Swift (ios/) sources with the Tauri
//! CLI, which builds them into the app's Android and Xcode projects. The
//! plugin has no commands the webview may call: only the app's Rust side
//! talks to it, so it needs no permission.

const COMMANDS: &[&str] = &[];

fn main() {
    tauri_plugin::Builder::new(COMMANDS).android_path("android").ios_path("ios").build();
}
