// swift-tools-version:5.3
// The Swift package the Tauri CLI adds to the app's Xcode project
// (tauri_plugin::Builder::ios_path in build.rs).

import PackageDescription

let package = Package(
    name: "tauri-plugin-background-sync",
    platforms: [
        .iOS(.v13),
    ],
    products: [
        .library(
            name: "tauri-plugin-background-sync",
            type: .static,
            targets: ["tauri-plugin-background-sync"]),
    ],
    dependencies: [
        .package(name: "Tauri", path: "../.tauri/tauri-api")
    ],
    targets: [
        .target(
            name: "tauri-plugin-background-sync",
            dependencies: [
                .byName(name: "Tauri")
            ],
            path: "Sources")
    ]
)
