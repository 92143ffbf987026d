// swift-tools-version: 6.1
import PackageDescription

// An app that embeds EdgeHAL the way any package would: by URL and version. The URL is EdgeHAL's
// repository; scripts/embedding-app.sh points EDGEHAL_PACKAGE_URL at a local clone (file://)
// tagged with a release version, so CI builds exactly what a consumer of that tag gets.
let edgehal = Context.environment["EDGEHAL_PACKAGE_URL"] ?? "https://github.com/edgehal/EdgeHAL.git"

let package = Package(
    name: "EmbeddingApp",
    dependencies: [
        .package(url: edgehal, from: "0.1.0"),
    ],
    targets: [
        // Only the app API and what it needs (core, models, CPU and reference backends): no GPU
        // headers or loaders are needed to build it.
        .executableTarget(name: "EmbeddingApp", dependencies: [.product(name: "EdgeHALKit", package: "EdgeHAL")]),
    ]
)
