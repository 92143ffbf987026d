// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "EdgeHAL",
    products: [
        .library(name: "EdgeHAL", targets: ["EdgeHAL"]),
        .library(name: "EdgeHALConformance", targets: ["EdgeHALConformance"]),
        .library(name: "EdgeHALBuiltins", targets: ["EdgeHALBuiltins"]),
        .executable(name: "hwprobe", targets: ["hwprobe"]),
        .executable(name: "conformance", targets: ["conformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "EdgeHAL", path: "Sources/EdgeHAL"),
        .target(name: "EdgeHALReference", dependencies: ["EdgeHAL"], path: "Backends/Reference"),
        .target(name: "EdgeHALConformance", dependencies: ["EdgeHAL", "EdgeHALReference"],
                path: "Sources/EdgeHALConformance"),
        .target(name: "EdgeHALBuiltins", dependencies: ["EdgeHAL", "EdgeHALReference"],
                path: "Sources/EdgeHALBuiltins"),
        .executableTarget(name: "hwprobe", dependencies: [
            "EdgeHAL", "EdgeHALBuiltins",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tools/hwprobe"),
        .executableTarget(name: "conformance", dependencies: [
            "EdgeHAL", "EdgeHALBuiltins", "EdgeHALConformance",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tools/conformance"),
        .testTarget(name: "EdgeHALTests", dependencies: ["EdgeHAL", "EdgeHALReference"],
                    path: "Tests/EdgeHALTests", exclude: ["Fixtures"]),
        .testTarget(name: "EdgeHALConformanceTests",
                    dependencies: ["EdgeHAL", "EdgeHALReference", "EdgeHALConformance", "EdgeHALBuiltins"],
                    path: "Tests/EdgeHALConformanceTests"),
    ],
    swiftLanguageModes: [.v6]
)
